const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']
const ASCII = ['_', '.', '-', '=', '+', '*', '#', '@']

/**
 * A one-line chart of the last `width` values, scaled to the largest of them (an all-zero history
 * is a flat floor). `null` (no sample yet) is a space.
 */
export function sparkline(values: readonly (number | null)[], width: number, unicode = true): string {
  const ramp = unicode ? BLOCKS : ASCII
  const recent = values.slice(-width)
  const max = Math.max(0, ...recent.map((v) => v ?? 0))
  const line = recent
    .map((v) => {
      if (v === null) return ' '
      if (max === 0 || v <= 0) return ramp[0]
      return ramp[Math.min(ramp.length - 1, Math.round((v / max) * (ramp.length - 1)))]
    })
    .join('')
  return line.padStart(width, ' ')
}
