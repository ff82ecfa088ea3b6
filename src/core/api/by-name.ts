/**
 * A table keyed by C names, without a prototype: `name in table` and `table[name]` must not
 * find `constructor`, `toString` or `valueOf` (a C++ method of that name is called as such).
 */
export function byName<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}
