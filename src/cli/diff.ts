/** A unified diff of two texts, with `context` lines around each change (an LCS over the changed middle: fixes are local). */
export function unifiedDiff(pathName: string, before: string, after: string, context = 3): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const hunks: string[] = [];
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === ' ') i++;
    if (i >= ops.length) break;
    let start = Math.max(0, i - context);
    let end = i;
    let lastChange = i;
    while (end < ops.length && (ops[end].kind !== ' ' || end - lastChange <= context * 2)) {
      if (ops[end].kind !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const slice = ops.slice(start, end);
    const aStart = slice[0].a;
    const bStart = slice[0].b;
    const aLen = slice.filter((o) => o.kind !== '+').length;
    const bLen = slice.filter((o) => o.kind !== '-').length;
    hunks.push(`@@ -${aLen ? aStart + 1 : aStart},${aLen} +${bLen ? bStart + 1 : bStart},${bLen} @@\n` + slice.map((o) => o.kind + o.text + (o.text.endsWith('\n') ? '' : '\n\\ No newline at end of file\n')).join(''));
    i = end;
    start = end;
  }
  return `--- a/${pathName}\n+++ b/${pathName}\n${hunks.join('')}`;
}

function splitLines(s: string): string[] {
  const out = s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return out;
}

interface Op {
  kind: ' ' | '-' | '+';
  text: string;
  a: number;
  b: number;
}

function diffLines(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: Op[] = [];
  for (let k = 0; k < pre; k++) ops.push({ kind: ' ', text: a[k], a: k, b: k });
  // LCS on the middle; fixes change few lines, so the middle is small.
  const n = am.length;
  const m = bm.length;
  if (n * m > 4_000_000) {
    am.forEach((t, k) => ops.push({ kind: '-', text: t, a: pre + k, b: pre }));
    bm.forEach((t, k) => ops.push({ kind: '+', text: t, a: pre + n, b: pre + k }));
  } else {
    const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
    for (let x = n - 1; x >= 0; x--) for (let y = m - 1; y >= 0; y--) dp[x][y] = am[x] === bm[y] ? dp[x + 1][y + 1] + 1 : Math.max(dp[x + 1][y], dp[x][y + 1]);
    let x = 0;
    let y = 0;
    while (x < n || y < m) {
      if (x < n && y < m && am[x] === bm[y]) {
        ops.push({ kind: ' ', text: am[x], a: pre + x, b: pre + y });
        x++;
        y++;
      } else if (x < n && (y >= m || dp[x + 1][y] >= dp[x][y + 1])) {
        ops.push({ kind: '-', text: am[x], a: pre + x, b: pre + y });
        x++;
      } else {
        ops.push({ kind: '+', text: bm[y], a: pre + x, b: pre + y });
        y++;
      }
    }
  }
  for (let k = 0; k < suf; k++) ops.push({ kind: ' ', text: a[a.length - suf + k], a: a.length - suf + k, b: b.length - suf + k });
  return ops;
}
