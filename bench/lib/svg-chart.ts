// Small, dependency-free SVG charts for the benchmark results: grouped bars and lines. Enough for a
// results document; not a charting library.

export interface Series {
  name: string
  values: number[]
  /** Optional spread of each value (e.g. min and max over runs), drawn as a whisker. */
  low?: number[]
  high?: number[]
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#9c755f']
// Lines that coincide (push and tree carry about the same bytes) must stay told apart: each series
// gets its own dash and marker, and later ones are dashed and thinner so that the earlier shows
// around and through them.
const DASHES = ['', '7 4', '2 3', '9 3 2 3']
const STROKES = [4, 2.5, 2, 2]
const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const
const FONT_SIZE = 11
const LINE_HEIGHT = 13

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * Width of a label in pixels, erring wide: the SVG is drawn by whoever views it, so the real font is
 * unknown; 0.6 em is above the average glyph of the common sans-serif faces.
 */
export function textWidth(text: string, fontSize = FONT_SIZE): number {
  return [...text].length * fontSize * 0.6
}

/** A label broken at spaces into lines no wider than `maxWidth` (a word longer than that is cut). */
export function wrapLabel(text: string, maxWidth: number, fontSize = FONT_SIZE): string[] {
  const maxChars = Math.max(1, Math.floor(maxWidth / (fontSize * 0.6)))
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const pieces = word.length <= maxChars ? [word] : (word.match(new RegExp(`.{1,${maxChars}}`, 'g')) ?? [])
    for (const piece of pieces) {
      if (line === '') line = piece
      else if (line.length + 1 + piece.length <= maxChars) line += ` ${piece}`
      else {
        lines.push(line)
        line = piece
      }
    }
  }
  if (line !== '') lines.push(line)
  return lines
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude
  return 10 * magnitude
}

export function formatTick(value: number): string {
  // Up to two decimals: a quarter tick of 5k is 1.25k, which one decimal would print as 1.3k.
  if (value >= 1e6) return `${Number((value / 1e6).toFixed(2))}M`
  if (value >= 1e3) return `${Number((value / 1e3).toFixed(2))}k`
  // toPrecision drops the float noise of 10 ** -2 and the like: 0.01, 0.25, not 0.010000000000000002.
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)))
}

/**
 * A y axis, linear from 0 or logarithmic between powers of ten around the data. A log axis has no
 * place for 0 or a negative value: `at` returns undefined and the caller leaves the point out,
 * rather than drawing it at the axis floor as if it were the floor's value.
 */
export interface YAxis {
  log: boolean
  min: number
  max: number
  ticks: number[]
  /** Height above the plot's floor, or undefined for a value the axis cannot show. */
  at(value: number, plotHeight: number): number | undefined
}

export function yAxis(values: number[], log: boolean): YAxis {
  const finite = values.filter(Number.isFinite)
  if (!log) {
    const max = niceMax(Math.max(0, ...finite))
    return {
      log,
      min: 0,
      max,
      ticks: [0, 0.25, 0.5, 0.75, 1].map((f) => f * max),
      at: (value, height) => (Number.isFinite(value) ? (value / max) * height : undefined),
    }
  }
  const positive = finite.filter((v) => v > 0)
  const lo = positive.length === 0 ? 0 : Math.floor(Math.log10(Math.min(...positive)))
  const hi = positive.length === 0 ? 1 : Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive))))
  return {
    log,
    min: 10 ** lo,
    max: 10 ** hi,
    ticks: Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)),
    at: (value, height) =>
      Number.isFinite(value) && value > 0 ? ((Math.log10(value) - lo) / (hi - lo)) * height : undefined,
  }
}

interface Frame {
  width: number
  height: number
  left: number
  right: number
  top: number
  bottom: number
}

function axes(
  frame: Frame,
  title: string,
  yLabel: string,
  axis: YAxis,
  formatY: (v: number) => string,
): string[] {
  const parts: string[] = []
  const plotH = frame.height - frame.top - frame.bottom
  parts.push(
    `<text x="${frame.width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  )
  parts.push(
    `<text x="14" y="${frame.top + plotH / 2}" transform="rotate(-90 14 ${frame.top + plotH / 2})" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`,
  )
  for (const tick of axis.ticks) {
    const y = frame.top + plotH - (axis.at(tick, plotH) ?? 0)
    parts.push(
      `<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${frame.left - 6}" y="${y + 4}" text-anchor="end" font-size="${FONT_SIZE}">${escapeXml(formatY(tick))}</text>`,
    )
  }
  return parts
}

/**
 * Series i's marker: its own shape, and smaller than the ones before it, so that drawn in order a
 * later marker on the same point leaves a ring of the earlier one showing.
 */
function marker(i: number, x: number, y: number): string {
  const kind = MARKERS[i % MARKERS.length]!
  const color = PALETTE[i % PALETTE.length]!
  const r = Math.max(2.5, 5.5 - 0.75 * i)
  const style = `fill="${color}" stroke="white" stroke-width="1"`
  switch (kind) {
    case 'circle':
      return `<circle cx="${x}" cy="${y}" r="${r}" ${style}/>`
    case 'square':
      return `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" ${style}/>`
    case 'triangle':
      return `<polygon points="${x},${y - r - 1} ${x - r - 1},${y + r} ${x + r + 1},${y + r}" ${style}/>`
    case 'diamond':
      return `<polygon points="${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}" ${style}/>`
  }
}

/** Legend entries laid out by the width of their names, wrapping to a second row if need be. */
function legend(frame: Frame, series: Series[], kind: 'bar' | 'line'): string[] {
  const parts: string[] = []
  let x = frame.left
  // The frame leaves room below the axis for every row: the first row sits as high as the others need.
  let y = frame.height - 12 - (legendRows(frame, series, kind) - 1) * 16
  for (const [i, s] of series.entries()) {
    const color = PALETTE[i % PALETTE.length]!
    const swatch = kind === 'bar' ? 12 : 28
    const width = swatch + 6 + textWidth(s.name, 12) + 20
    if (x > frame.left && x + width > frame.width - frame.right) {
      x = frame.left
      y += 16
    }
    if (kind === 'bar') {
      parts.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color}"/>`)
    } else {
      const dash = DASHES[i % DASHES.length]
      parts.push(
        `<line x1="${x}" x2="${x + swatch}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
        marker(i, x + swatch / 2, y - 4),
      )
    }
    parts.push(`<text x="${x + swatch + 6}" y="${y}" font-size="12">${escapeXml(s.name)}</text>`)
    x += width
  }
  return parts
}

/** Rows the legend takes: enough room is left for them below the axis labels. */
function legendRows(frame: Frame, series: Series[], kind: 'bar' | 'line'): number {
  let rows = 1
  let x = frame.left
  for (const s of series) {
    const width = (kind === 'bar' ? 12 : 28) + 6 + textWidth(s.name, 12) + 20
    if (x > frame.left && x + width > frame.width - frame.right) {
      rows++
      x = frame.left
    }
    x += width
  }
  return rows
}

/**
 * Grouped bars: one group per category, one bar per series, with a whisker from `low` to `high`
 * where a series has them. Category labels wrap to the width of their group so that long ones do
 * not run into their neighbours.
 */
export function barChart(init: {
  title: string
  yLabel: string
  categories: string[]
  series: Series[]
  log?: boolean
  /** Tick and value labels; plain numbers otherwise. */
  format?: (v: number) => string
  /** Print each bar's value above it. */
  valueLabels?: boolean
}): string {
  const format = init.format ?? formatTick
  const width = 760
  const left = 70
  const right = 20
  const groupW = (width - left - right) / Math.max(1, init.categories.length)
  const labels = init.categories.map((c) => wrapLabel(c, groupW - 8))
  const labelLines = Math.max(1, ...labels.map((l) => l.length))
  const bottom =
    16 + labelLines * LINE_HEIGHT + 12 + legendRows({ width, left, right } as Frame, init.series, 'bar') * 16
  // Value labels over the tallest bars need a line of room under the title.
  const top = init.valueLabels === true ? 54 : 40
  const frame: Frame = { width, height: 260 + top + bottom, left, right, top, bottom }
  const plotH = frame.height - frame.top - frame.bottom
  const axis = yAxis(
    init.series.flatMap((s) => [...s.values, ...(s.high ?? [])]),
    init.log === true,
  )
  const parts = axes(frame, init.title, init.yLabel, axis, format)
  const floor = frame.top + plotH
  const barW = (groupW * 0.8) / Math.max(1, init.series.length)
  init.categories.forEach((_, c) => {
    const x0 = frame.left + c * groupW + groupW * 0.1
    init.series.forEach((s, i) => {
      const value = s.values[c] ?? Number.NaN
      const h = axis.at(value, plotH)
      const x = x0 + i * barW
      if (h !== undefined) {
        parts.push(
          `<rect x="${x}" y="${floor - h}" width="${barW - 2}" height="${h}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${s.name}: ${format(value)}`)}</title></rect>`,
        )
      }
      const lo = s.low?.[c]
      const hi = s.high?.[c]
      const yLo = lo === undefined ? undefined : axis.at(lo, plotH)
      const yHi = hi === undefined ? undefined : axis.at(hi, plotH)
      const mid = x + (barW - 2) / 2
      if (yLo !== undefined && yHi !== undefined && hi !== lo) {
        const cap = Math.min(8, barW / 4)
        parts.push(
          `<path d="M${mid},${floor - yLo}V${floor - yHi}M${mid - cap},${floor - yLo}H${mid + cap}M${mid - cap},${floor - yHi}H${mid + cap}" stroke="#333" stroke-width="1.5" fill="none"/>`,
        )
      }
      if (init.valueLabels === true && h !== undefined) {
        const top = Math.max(h, yHi ?? 0)
        parts.push(
          `<text x="${mid}" y="${floor - top - 5}" text-anchor="middle" font-size="${FONT_SIZE}">${escapeXml(format(value))}</text>`,
        )
      }
    })
    labels[c]!.forEach((line, l) => {
      parts.push(
        `<text x="${frame.left + c * groupW + groupW / 2}" y="${floor + 16 + l * LINE_HEIGHT}" text-anchor="middle" font-size="${FONT_SIZE}">${escapeXml(line)}</text>`,
      )
    })
  })
  parts.push(...legend(frame, init.series, 'bar'))
  return wrap(frame, parts)
}

/**
 * Of labels centred at `xs` (in order), those that can be drawn without touching the one before:
 * the first and the last are kept, and labels in between are dropped where they would crowd.
 */
export function spacedLabels(xs: number[], labels: string[], gap = 6): boolean[] {
  const keep = xs.map(() => false)
  const half = (i: number): number => textWidth(labels[i]!) / 2
  const last = xs.length - 1
  if (xs.length === 0) return keep
  keep[0] = true
  let rightEdge = xs[0]! + half(0)
  for (let i = 1; i <= last; i++) {
    const fitsAfterPrevious = xs[i]! - half(i) >= rightEdge + gap
    const fitsBeforeLast = i === last || xs[i]! + half(i) + gap <= xs[last]! - half(last)
    if (fitsAfterPrevious && fitsBeforeLast) {
      keep[i] = true
      rightEdge = xs[i]! + half(i)
    }
  }
  if (!keep[last] && last > 0) {
    // The last label always shows the end of the axis: drop the kept one it would touch instead.
    for (let i = last - 1; i > 0 && keep[i] && xs[i]! + half(i) + gap > xs[last]! - half(last); i--)
      keep[i] = false
    keep[last] = true
  }
  return keep
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
  const width = 760
  const left = 70
  const right = 20
  const bottom = 48 + legendRows({ width, left, right } as Frame, init.series, 'line') * 16
  const frame: Frame = { width, height: 300 + bottom, left, right, top: 40, bottom }
  const plotW = frame.width - frame.left - frame.right
  const plotH = frame.height - frame.top - frame.bottom
  const axis = yAxis(
    init.series.flatMap((s) => s.values),
    init.log === true,
  )
  const parts = axes(frame, init.title, init.yLabel, axis, formatTick)
  const xMin = Math.min(...init.x)
  const xMax = Math.max(...init.x)
  const xOf = (x: number): number =>
    frame.left +
    (init.logX === true
      ? ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin) || 1)) * plotW
      : ((x - xMin) / (xMax - xMin || 1)) * plotW)
  const xs = init.x.map(xOf)
  const xLabels = init.x.map(formatTick)
  const shown = spacedLabels(xs, xLabels)
  xs.forEach((x, i) => {
    if (!shown[i]) return
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${frame.top + plotH}" y2="${frame.top + plotH + 4}" stroke="#999"/>`,
      `<text x="${x}" y="${frame.top + plotH + 16}" text-anchor="middle" font-size="${FONT_SIZE}">${xLabels[i]}</text>`,
    )
  })
  parts.push(
    `<text x="${frame.left + plotW / 2}" y="${frame.top + plotH + 34}" text-anchor="middle" font-size="12">${escapeXml(init.xLabel)}</text>`,
  )
  const points = init.series.map((s) =>
    s.values.flatMap((v, j) => {
      const h = axis.at(v, plotH)
      return h === undefined ? [] : [[xs[j]!, frame.top + plotH - h] as const]
    }),
  )
  // Every line, then every marker: a line drawn later must not cross out an earlier series' markers.
  points.forEach((line, i) => {
    const dash = DASHES[i % DASHES.length]
    parts.push(
      `<polyline fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="${STROKES[i % STROKES.length]}"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${line.map(([x, y]) => `${x},${y}`).join(' ')}"/>`,
    )
  })
  points.forEach((line, i) => {
    for (const [x, y] of line) parts.push(marker(i, x, y))
  })
  parts.push(...legend(frame, init.series, 'line'))
  return wrap(frame, parts)
}

function wrap(frame: Frame, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${frame.width}" height="${frame.height}" viewBox="0 0 ${frame.width} ${frame.height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
}
