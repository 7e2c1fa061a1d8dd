/**
 * Up to `count` items of `items` in random order (a partial Fisher-Yates shuffle of `items`, in place),
 * drawn from `random` (uniform in [0, 1)): a simulation passes its seeded source to replay a run.
 */
export function randomSample<T>(items: T[], count = items.length, random: () => number = Math.random): T[] {
  const n = Math.min(count, items.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (items.length - i))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items.slice(0, n)
}
