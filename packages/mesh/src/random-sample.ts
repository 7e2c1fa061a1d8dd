/** Up to `count` items of `items` in random order (a partial Fisher-Yates shuffle of `items`, in place). */
export function randomSample<T>(items: T[], count = items.length): T[] {
  const n = Math.min(count, items.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items.slice(0, n)
}
