/**
 * Uptime and ages in at most 6 characters (watch's UP column): `42s`, `12m03s`, `5h07m`, `3d04h`,
 * and whole days from 100 days on (`100d04h` would not fit).
 */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  const days = Math.floor(s / 86_400)
  if (days >= 100) return `${days}d`
  return `${days}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(1)} GiB`
}

/**
 * A count in at most 5 characters: `999`, `1.2k`, `12k`, `1.2M`, `1.2G`. The bounds are where the
 * rounded figure reaches the next unit, so that 999,600 reads `1.0M`, not `1000k`.
 */
export function compact(n: number): string {
  if (n < 999.5) return String(Math.round(n))
  if (n < 9_950) return `${(n / 1e3).toFixed(1)}k`
  if (n < 999_500) return `${Math.round(n / 1e3)}k`
  if (n < 9_950_000) return `${(n / 1e6).toFixed(1)}M`
  if (n < 999_500_000) return `${Math.round(n / 1e6)}M`
  if (n < 9_950_000_000) return `${(n / 1e9).toFixed(1)}G`
  return `${Math.round(n / 1e9)}G`
}

/** A per-second rate; `-` before there are two samples. */
export function rate(n: number | null): string {
  if (n === null) return '-'
  return n < 999.95 ? n.toFixed(1) : compact(n)
}

export function grouped(n: number): string {
  return n.toLocaleString('en-US')
}

/**
 * A share in at most 5 characters (watch's HIT% column): one decimal below 100 (`99.0%`), none from
 * 100 on (`100%`; `100.0%` would be cut). Just under 100 reads `99.9%`, never `100%`: a rate rounded
 * up to 100 would say there were no misses. `-` when there is nothing to divide by.
 */
export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return '-'
  const p = (part / whole) * 100
  if (p >= 100) return `${Math.round(p)}%`
  if (p >= 99.95) return '99.9%'
  return `${p.toFixed(1)}%`
}

/** Milliseconds in at most 6 characters (watch's P99ms column): `8.3`, `412`, `99999`, `123k`. */
export function ms(n: number | null | undefined): string {
  if (n == null) return '-'
  if (Math.abs(n) < 10) return n.toFixed(1)
  // Propagation includes clock skew, so a p99 can be minutes, or negative.
  if (Math.abs(n) < 99_999.5) return String(Math.round(n))
  return `${n < 0 ? '-' : ''}${compact(Math.abs(n))}`
}
