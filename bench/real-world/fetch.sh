#!/usr/bin/env bash
# Materialises every project of projects.tsv (or only the names given as
# arguments) at its pinned commit into bench/real-world/src/NAME/.
#
# Git objects come from a local mirror when CPYREF_MIRRORS names a folder that
# holds OWNER+NAME/ (the git directory may be that folder, its repo/ or its
# repo/.git); otherwise the commit is fetched shallowly from GitHub.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tsv=$here/projects.tsv
out=$here/src

# Prints the git directory inside a mirror folder, if any.
git_dir_in() {
  local d
  for d in "$1" "$1/repo" "$1/repo/.git"; do
    if [[ -f $d/HEAD && -d $d/objects ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  return 1
}

# Writes COMMIT's tree from GITDIR into DEST, through a scratch index rather than
# `git archive`, which honours the tree's export-ignore attributes (some projects
# export-ignore their sources). Files whose blobs the git directory lacks (mirrors can
# omit very large files) are left out, with a note.
checkout_into() {
  local gitdir=$1 commit=$2 dest=$3 name=$4
  local -a left_out=()
  local -A missing=()
  local sha entry index
  while read -r sha _; do missing[$sha]=1; done < <(
    git --git-dir="$gitdir" ls-tree -r "$commit" | awk '$2 == "blob" { print $3 }' |
      git --git-dir="$gitdir" cat-file --batch-check | awk '$2 == "missing"')
  if ((${#missing[@]})); then
    while IFS= read -r -d '' entry; do
      sha=${entry%%$'\t'*}
      sha=${sha##* }
      [[ -n ${missing[$sha]:-} ]] || continue
      echo "$name: not in the mirror, left out: ${entry#*$'\t'}" >&2
      left_out+=("${entry#*$'\t'}")
    done < <(git --git-dir="$gitdir" ls-tree -r -z "$commit")
  fi
  index=$(mktemp)
  GIT_INDEX_FILE=$index git --git-dir="$gitdir" read-tree "$commit"
  if ((${#left_out[@]})); then
    GIT_INDEX_FILE=$index git --git-dir="$gitdir" update-index --force-remove -- "${left_out[@]}"
  fi
  GIT_INDEX_FILE=$index git --git-dir="$gitdir" --work-tree="$dest" checkout-index -a -f
  rm -f "$index"
}

fetch_one() {
  local name=$1 repo=$2 commit=$3
  local dest=$out/$name
  if [[ -f $dest/.commit && $(<"$dest/.commit") == "$commit" ]]; then
    echo "$name: up to date"
    return 0
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  local gitdir=""
  if [[ -n ${CPYREF_MIRRORS:-} && -d $CPYREF_MIRRORS/${repo/\//+} ]]; then
    gitdir=$(git_dir_in "$CPYREF_MIRRORS/${repo/\//+}") || gitdir=""
    if [[ -n $gitdir ]] && ! git --git-dir="$gitdir" cat-file -e "$commit^{commit}" 2>/dev/null; then
      echo "$name: mirror lacks $commit; fetching from GitHub" >&2
      gitdir=""
    fi
  fi
  if [[ -n $gitdir ]]; then
    echo "$name: from mirror"
    checkout_into "$gitdir" "$commit" "$dest" "$name"
  else
    echo "$name: from https://github.com/$repo"
    tmp=$(mktemp -d)
    git init -q --bare "$tmp"
    git --git-dir="$tmp" fetch -q --depth 1 "https://github.com/$repo" "$commit"
    checkout_into "$tmp" "$commit" "$dest" "$name"
    rm -rf "$tmp"
    tmp=""
  fi
  printf '%s\n' "$commit" >"$dest/.commit"
}

tmp="" # the scratch git directory of a network fetch under way
trap '[[ -z $tmp ]] || rm -rf "$tmp"' EXIT
mkdir -p "$out"
declare -A wanted=()
for arg in "$@"; do wanted[$arg]=1; done
found=0
while IFS=$'\t' read -r name repo commit _paths _set; do
  [[ $name == name ]] && continue
  if (($# > 0)) && [[ -z ${wanted[$name]:-} ]]; then continue; fi
  found=$((found + 1))
  fetch_one "$name" "$repo" "$commit"
done <"$tsv"
if (($# > 0 && found != $#)); then
  echo "fetch.sh: some names are not in projects.tsv: $*" >&2
  exit 1
fi
