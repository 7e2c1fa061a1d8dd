/**
 * Plain ANSI SGR codes, applied only when colour is on: a terminal, and NO_COLOR unset or empty
 * (https://no-color.org). Everything else (ssh, tmux, screen, a pipe) gets the same text without them.
 */
export interface Style {
  readonly color: boolean
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
  cyan(text: string): string
}

const sgr =
  (on: string, off: string) =>
  (text: string): string =>
    `\x1b[${on}m${text}\x1b[${off}m`

const identity = (text: string): string => text

export function createStyle(color: boolean): Style {
  if (!color) {
    return {
      color,
      bold: identity,
      dim: identity,
      red: identity,
      green: identity,
      yellow: identity,
      cyan: identity,
    }
  }
  return {
    color,
    bold: sgr('1', '22'),
    dim: sgr('2', '22'),
    red: sgr('31', '39'),
    green: sgr('32', '39'),
    yellow: sgr('33', '39'),
    cyan: sgr('36', '39'),
  }
}

/** Colour when writing to a terminal and the user has not asked for none. */
export function wantsColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  return stream.isTTY === true
}

/** Whether the terminal takes UTF-8 (block characters for sparklines) or only ASCII. */
export function wantsUnicode(env: Record<string, string | undefined>): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || ''
  return /utf-?8/i.test(locale)
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape codes is the point
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g

/** The text as the terminal shows it: escape codes removed. */
export function visible(text: string): string {
  return text.replace(ESCAPES, '')
}

/** Cuts `text` (plain, no escapes) to `width` columns, marking a cut with `~`. */
export function fit(text: string, width: number): string {
  const chars = [...text]
  if (chars.length <= width) return text
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}~`
}

/** Screen control for the live view: home, clear to end of line/screen, cursor. */
export const SCREEN = {
  clear: '\x1b[2J\x1b[H',
  home: '\x1b[H',
  clearLine: '\x1b[K',
  clearBelow: '\x1b[J',
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
} as const
