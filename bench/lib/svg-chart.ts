// Small, dependency-free SVG charts for the benchmark results: grouped bars and lines. Enough for a
// results document; not a charting library.

export interface Series {
  name: string
  values: number[]
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#9c755f']
const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceMax(value: number): number {
  if (!(value > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude
  return 10 * magnitude
}

function formatTick(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value % 1e6 === 0 ? 0 : 1)}M`
  if (value >= 1e3) return `${(value / 1e3).toFixed(value % 1e3 === 0 ? 0 : 1)}k`
  return Number.isInteger(value) ? String(value) : value.toFixed(2)
}

interface Frame {
  width: number
  height: number
  left: number
  right: number
  top: number
  bottom: number
}

function axes(frame: Frame, title: string, yLabel: string, yMax: number, log: boolean): string[] {
  const parts: string[] = []
  const plotH = frame.height - frame.top - frame.bottom
  parts.push(
    `<text x="${frame.width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  )
  parts.push(
    `<text x="14" y="${frame.top + plotH / 2}" transform="rotate(-90 14 ${frame.top + plotH / 2})" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`,
  )
  const ticks = log
    ? Array.from({ length: Math.ceil(Math.log10(yMax)) + 1 }, (_, i) => 10 ** i).filter((t) => t <= yMax)
    : [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax)
  for (const tick of ticks) {
    const y = frame.top + plotH - yScale(tick, yMax, plotH, log)
    parts.push(
      `<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${frame.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${formatTick(tick)}</text>`,
    )
  }
  return parts
}

function yScale(value: number, max: number, height: number, log: boolean): number {
  if (log) return value <= 1 ? 0 : (Math.log10(value) / Math.log10(max)) * height
  return (value / max) * height
}

function legend(frame: Frame, series: Series[]): string[] {
  return series.map((s, i) => {
    const x = frame.left + i * 170
    const y = frame.height - 12
    return `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 16}" y="${y}" font-size="12">${escapeXml(s.name)}</text>`
  })
}

/** Grouped bars: one group per category, one bar per series. */
export function barChart(init: {
  title: string
  yLabel: string
  categories: string[]
  series: Series[]
  log?: boolean
}): string {
  const frame: Frame = { width: 760, height: 380, left: 70, right: 20, top: 40, bottom: 80 }
  const plotW = frame.width - frame.left - frame.right
  const plotH = frame.height - frame.top - frame.bottom
  const max = niceMax(Math.max(...init.series.flatMap((s) => s.values.filter(Number.isFinite))))
  const parts = axes(frame, init.title, init.yLabel, max, init.log === true)
  const groupW = plotW / init.categories.length
  const barW = (groupW * 0.8) / init.series.length
  init.categories.forEach((category, c) => {
    const x0 = frame.left + c * groupW + groupW * 0.1
    init.series.forEach((s, i) => {
      const value = s.values[c] ?? 0
      const h = Number.isFinite(value) ? yScale(value, max, plotH, init.log === true) : 0
      parts.push(
        `<rect x="${x0 + i * barW}" y="${frame.top + plotH - h}" width="${barW - 2}" height="${h}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${s.name}: ${value}`)}</title></rect>`,
      )
    })
    parts.push(
      `<text x="${x0 + groupW * 0.4}" y="${frame.top + plotH + 16}" text-anchor="middle" font-size="11">${escapeXml(category)}</text>`,
    )
  })
  parts.push(...legend(frame, init.series))
  return wrap(frame, parts)
}

/** Lines over numeric x values. */
export function lineChart(init: {
  title: string
  yLabel: string
  xLabel: string
  x: number[]
  series: Series[]
  log?: boolean
  logX?: boolean
}): string {
  const frame: Frame = { width: 760, height: 380, left: 70, right: 20, top: 40, bottom: 80 }
  const plotW = frame.width - frame.left - frame.right
  const plotH = frame.height - frame.top - frame.bottom
  const max = niceMax(Math.max(...init.series.flatMap((s) => s.values.filter(Number.isFinite))))
  const parts = axes(frame, init.title, init.yLabel, max, init.log === true)
  const xMin = Math.min(...init.x)
  const xMax = Math.max(...init.x)
  const xOf = (x: number): number =>
    frame.left +
    (init.logX === true
      ? ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin) || 1)) * plotW
      : ((x - xMin) / (xMax - xMin || 1)) * plotW)
  for (const x of init.x) {
    parts.push(
      `<text x="${xOf(x)}" y="${frame.top + plotH + 16}" text-anchor="middle" font-size="11">${formatTick(x)}</text>`,
    )
  }
  parts.push(
    `<text x="${frame.left + plotW / 2}" y="${frame.top + plotH + 34}" text-anchor="middle" font-size="12">${escapeXml(init.xLabel)}</text>`,
  )
  init.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]
    const points = s.values
      .map((v, j) =>
        Number.isFinite(v)
          ? `${xOf(init.x[j]!)},${frame.top + plotH - yScale(v, max, plotH, init.log === true)}`
          : '',
      )
      .filter((p) => p !== '')
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`)
    for (const p of points) {
      const [cx, cy] = p.split(',')
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`)
    }
  })
  parts.push(...legend(frame, init.series))
  return wrap(frame, parts)
}

function wrap(frame: Frame, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${frame.width}" height="${frame.height}" viewBox="0 0 ${frame.width} ${frame.height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
}
