import { describe, expect, it } from 'vitest'
import {
  barChart,
  formatTick,
  lineChart,
  spacedLabels,
  textWidth,
  wrapLabel,
  yAxis,
} from '../lib/svg-chart.ts'

const PLOT = 300

describe('svg-chart: log scale', () => {
  it('reaches below 1 for values under 1 instead of drawing them at 1', () => {
    const axis = yAxis([49.8, 5, 0.5, 0.05, 2991], true)
    expect(axis.ticks).toEqual([0.01, 0.1, 1, 10, 100, 1000, 10_000])
    const at = (v: number) => axis.at(v, PLOT)!
    expect(at(0.05)).toBeLessThan(at(0.5))
    expect(at(0.5)).toBeLessThan(at(1))
    expect(at(0.01)).toBe(0)
    expect(at(10_000)).toBe(PLOT)
  })

  it('has no place for 0 or a negative value: it is left out, not drawn at the floor', () => {
    const axis = yAxis([0, 3, 200], true)
    expect(axis.min).toBe(1)
    expect(axis.at(0, PLOT)).toBeUndefined()
    expect(axis.at(-1, PLOT)).toBeUndefined()
    const svg = lineChart({
      title: 't',
      yLabel: 'y',
      xLabel: 'x',
      x: [10, 100, 1000],
      series: [{ name: 'central store', values: [3, 0, 200] }],
      log: true,
      logX: true,
    })
    const polyline = svg.match(/<polyline[^>]* points="([^"]*)"/)![1]!
    expect(polyline.split(' ')).toHaveLength(2)
  })

  it('a linear axis starts at 0 and ends at a round figure', () => {
    const axis = yAxis([31.8, 100, 60.3], false)
    expect(axis.ticks).toEqual([0, 25, 50, 75, 100])
    expect(axis.at(0, PLOT)).toBe(0)
  })

  it('tick labels: 0.01 not 0.010000000000000002, 1.25k not 1.3k', () => {
    expect(formatTick(10 ** -2)).toBe('0.01')
    expect(formatTick(1250)).toBe('1.25k')
    expect(formatTick(37_500)).toBe('37.5k')
    expect(formatTick(2_000_000)).toBe('2M')
  })
})

describe('svg-chart: labels do not overlap', () => {
  const fleet = [
    'server-local caches',
    'central memcached',
    'tlsmesh',
    'tlsmesh (local daemons)',
    'single server (limit)',
    'central memcached, killed mid-run',
    'tlsmesh (local daemons), one killed mid-run',
  ]

  it('wraps each category label to the width of its group', () => {
    const group = 90
    for (const label of fleet) {
      const lines = wrapLabel(label, group)
      expect(lines.join(' ')).toBe(label)
      for (const line of lines) expect(textWidth(line), line).toBeLessThanOrEqual(group)
    }
    expect(wrapLabel('abcdefghijklmnop', 33)).toEqual(['abcde', 'fghij', 'klmno', 'p'])
  })

  it('the bar chart draws every category label line inside its own group', () => {
    const svg = barChart({
      title: 'resumption rate',
      yLabel: '%',
      categories: fleet,
      series: [
        { name: 'rate', values: fleet.map(() => 50), low: fleet.map(() => 40), high: fleet.map(() => 60) },
      ],
    })
    const groupW = (760 - 70 - 20) / fleet.length
    const labels = [
      ...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="middle" font-size="11">([^<]+)<\/text>/g),
    ]
    expect(labels.length).toBeGreaterThanOrEqual(fleet.length)
    for (const [, x, text] of labels) {
      const centre = Number(x)
      const group = Math.floor((centre - 70) / groupW)
      expect(centre - textWidth(text!) / 2, text).toBeGreaterThanOrEqual(70 + group * groupW)
      expect(centre + textWidth(text!) / 2, text).toBeLessThanOrEqual(70 + (group + 1) * groupW)
    }
    // One whisker per bar.
    expect(svg.match(/<path d="M/g)).toHaveLength(fleet.length)
  })

  it('draws a legend of several rows inside the chart', () => {
    const names = [
      'push: origin sends (N-1)',
      'tree: origin sends, max',
      'tree: origin sends, mean',
      'tree: copies',
    ]
    const svg = lineChart({
      title: 'copies',
      yLabel: 'copies',
      xLabel: 'nodes',
      x: [10, 100],
      series: names.map((name) => ({ name, values: [1, 2] })),
    })
    const height = Number(svg.match(/height="(\d+)"/)![1])
    const legendYs = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="12">/g)].map((m) =>
      Number(m[1]),
    )
    expect(new Set(legendYs).size).toBeGreaterThan(1)
    for (const y of legendYs) expect(y).toBeLessThanOrEqual(height - 4)
  })

  it('drops x labels that would touch their neighbour, keeping the first and the last', () => {
    const labels = ['1', '2', '3', '4', '100k']
    expect(spacedLabels([0, 200, 400, 600, 800], labels)).toEqual([true, true, true, true, true])
    expect(spacedLabels([0, 5, 10, 15, 20], labels)).toEqual([true, false, false, false, true])
    const kept = spacedLabels([0, 10, 30, 50, 60], labels)
    expect(kept[0]).toBe(true)
    expect(kept[4]).toBe(true)
    const xs = [0, 10, 30, 50, 60].filter((_, i) => kept[i])
    const shown = labels.filter((_, i) => kept[i])
    for (let i = 1; i < xs.length; i++)
      expect(xs[i]! - textWidth(shown[i]!) / 2).toBeGreaterThan(xs[i - 1]! + textWidth(shown[i - 1]!) / 2)
  })
})
