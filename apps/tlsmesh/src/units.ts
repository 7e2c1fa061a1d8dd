/** Uptime and ages: `42s`, `12m03s`, `5h07m`, `3d04h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(1)} GiB`
}

/** A count in at most 5 characters: `999`, `1.2k`, `12k`, `1.2M`. */
export function compact(n: number): string {
  if (n < 1000) return String(Math.round(n))
  if (n < 10_000) return `${(n / 1000).toFixed(1)}k`
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`
  if (n < 10_000_000) return `${(n / 1_000_000).toFixed(1)}M`
  return `${Math.round(n / 1_000_000)}M`
}

/** A per-second rate; `-` before there are two samples. */
export function rate(n: number | null): string {
  if (n === null) return '-'
  return n < 1000 ? n.toFixed(1) : compact(n)
}

export function grouped(n: number): string {
  return n.toLocaleString('en-US')
}

export function percent(part: number, whole: number): string {
  if (whole <= 0) return '-'
  const p = (part / whole) * 100
  return p >= 99.95 && part < whole ? '99.9%' : `${p.toFixed(1)}%`
}

export function ms(n: number | null | undefined): string {
  if (n == null) return '-'
  return n < 10 ? n.toFixed(1) : String(Math.round(n))
}
