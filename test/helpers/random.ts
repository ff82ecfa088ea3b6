/** A seeded generator of numbers in [0, 1) (a linear congruential one): the same sequence every run, so a failure can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** A text of up to `max` pieces drawn with `next`. */
export function randomText(next: () => number, pieces: readonly string[], max: number): string {
  let t = '';
  for (let i = next() * max; i > 0; i--) t += pieces[Math.floor(next() * pieces.length)];
  return t;
}
