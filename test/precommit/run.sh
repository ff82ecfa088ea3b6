#!/usr/bin/env bash
# The pre-commit hooks of .pre-commit-hooks.yaml, end to end, with the pre-commit on PATH
# (Debian's package in CI): a temporary git repository uses this repository as its hook
# repository, and
#   1. a commit that makes a registered method return a borrowed Py_None is refused with the finding;
#   2. the cpyref-fix hook rewrites the file to Py_RETURN_NONE (and fails, as fixers do);
#   3. the fixed file, staged, passes both hooks and is committed;
#   4. only staged files are scanned: a method registered in an unchanged file's table passes the
#      default hook (information), and is refused with the README's whole-project override.
# The hook repository is a commit of this work tree as it is on disk (uncommitted changes
# included). pre-commit installs it with npm (npm install, npm pack, npm install -g) into a
# fresh PRE_COMMIT_HOME and runs it with the system node (language_version "system", chosen by
# pre-commit when node and npm are on PATH, so nodeenv downloads nothing).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
command -v pre-commit >/dev/null || { echo "pre-commit is not installed (Debian: apt-get install pre-commit)"; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm must be on PATH"; exit 1; }
# Started through npm, npm's own variables would reach the npm that pre-commit runs.
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\([Nn][Pp][Mm]_[A-Za-z0-9_]*\)=.*/\1/p')

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PRE_COMMIT_HOME="$WORK/pre-commit-home"
fail() { echo "FAIL: $*"; exit 1; }

# The hook repository: a snapshot of the work tree (tracked and untracked files, not ignored ones).
git clone -q "$ROOT" "$WORK/hooks"
(cd "$WORK/hooks" && git rm -rq --cached . && find . -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +)
(cd "$ROOT" && git ls-files -z -c -o --exclude-standard --deduplicate \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -C "$WORK/hooks" -xf -
(cd "$WORK/hooks" && git add -A && git -c user.name=test -c user.email=test@example.invalid commit -qm snapshot --allow-empty)
REV="$(git -C "$WORK/hooks" rev-parse HEAD)"

# The project.
P="$WORK/project"
mkdir "$P"
cd "$P"
git init -q
git config user.name test
git config user.email test@example.invalid
git config commit.gpgsign false
config() {
  { echo "repos:"; echo "  - repo: $WORK/hooks"; echo "    rev: $REV"; echo "    hooks:"; for id in "$@"; do echo "      - id: $id"; done; } > .pre-commit-config.yaml
  git add .pre-commit-config.yaml
}
write_module() { # $1: the statement that ends spam_reset; $2: the file (spam.c)
  cat > "${2:-spam.c}" <<C
#include <Python.h>

static PyObject *
spam_reset(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    $1
}

static PyMethodDef spam_methods[] = {
    {"reset", spam_reset, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};
C
}
commits() { git rev-list --count HEAD 2>/dev/null || echo 0; }

config cpyref
write_module 'return PyLong_FromLong(0);'
git add -A
start=$SECONDS
pre-commit install -f >/dev/null
pre-commit install-hooks
echo "hook environment installed in $((SECONDS - start)) s"
git commit -qm "a correct method" || fail "a correct method was refused"
[ "$(commits)" = 1 ] || fail "the first commit is missing"

# Commits what is staged; sets $out (the hooks' output, also printed) and $code (git's exit code).
try_commit() {
  set +e
  out="$(git commit -m "$1" 2>&1)"
  code=$?
  set -e
  echo "$out"
}

# 1. return Py_None; in a registered method: refused, with the finding.
write_module 'return Py_None;'
git add spam.c
try_commit "return a borrowed None"
[ "$code" -ne 0 ] || fail "the commit with return Py_None; was accepted"
[ "$(commits)" = 1 ] || fail "a commit was made"
grep -q "^spam.c:6:5: error: \`spam_reset\` returns borrowed \`Py_None\`.*\[borrowed-singleton-return\]$" <<<"$out" || fail "the finding is not in the hook's output"
grep -q "exit code: 1" <<<"$out" || fail "the hook did not exit with the CLI's findings code"

# 2. The fix hook rewrites the file (and fails, so the change can be reviewed and staged).
config cpyref-fix cpyref
try_commit "return a borrowed None"
[ "$code" -ne 0 ] || fail "the fix hook let the commit through unfixed"
[ "$(commits)" = 1 ] || fail "a commit was made"
grep -q "files were modified by this hook" <<<"$out" || fail "the fix hook did not modify the file"
# The work tree holds the fixed method, byte for byte; the index still holds the broken one.
write_module 'Py_RETURN_NONE;' "$WORK/expected.c"
cmp spam.c "$WORK/expected.c" || { diff "$WORK/expected.c" spam.c; fail "the fix hook did not write Py_RETURN_NONE;"; }
git show :spam.c | grep -q "return Py_None;" || fail "the staged file changed"

# 3. The fixed file, staged, passes both hooks.
git add spam.c
out="$(git commit -m "return None through Py_RETURN_NONE" 2>&1)" || { echo "$out"; fail "the fixed file was refused"; }
echo "$out"
grep -q "^cpyref --fix\.*Passed$" <<<"$out" || fail "the fix hook did not run on the fixed file"
grep -q "^cpyref\.*Passed$" <<<"$out" || fail "the check hook did not run on the fixed file"
[ "$(commits)" = 2 ] || fail "the fixed file was not committed"
git show HEAD:spam.c | grep -q "Py_RETURN_NONE;" || fail "the commit does not hold the fix"

# 4. The method in one file, its table in another, committed first; then the method breaks.
cat > table.c <<'C'
#include <Python.h>
PyObject *spam_flush(PyObject *self, PyObject *args);
static PyMethodDef more_methods[] = {
    {"flush", spam_flush, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
C
printf '#include <Python.h>\nPyObject *\nspam_flush(PyObject *self, PyObject *args)\n{\n    return PyLong_FromLong(0);\n}\n' > flush.c
config cpyref
git add table.c flush.c
git commit -qm "flush, registered in table.c" || fail "a correct method was refused"
sed -i 's/return PyLong_FromLong(0);/return Py_None;/' flush.c
git add flush.c
out="$(pre-commit run cpyref --verbose 2>&1)" || { echo "$out"; fail "the default hook refused a file whose table was not staged"; }
echo "$out"
grep -q "^flush.c:5:5: information: " <<<"$out" || fail "no information-level finding for flush.c"
{ cat .pre-commit-config.yaml; echo "        pass_filenames: false"; echo "        args: [.]"; } > cfg && mv cfg .pre-commit-config.yaml
git add .pre-commit-config.yaml
try_commit "flush returns a borrowed None"
[ "$code" -ne 0 ] || fail "the whole-project hook let a registered method through"
grep -q "^flush.c:5:5: error: \`spam_flush\` returns borrowed \`Py_None\`" <<<"$out" || fail "the whole-project hook did not report flush.c as an error"
echo "pre-commit hooks: OK ($((SECONDS - start)) s)"
