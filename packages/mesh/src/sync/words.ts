/**
 * 64-bit keys, prefixes and fingerprints as pairs of 32-bit words, without BigInt arithmetic: a shift
 * or a mask of a bigint allocates one, and a catch-up reads hundreds of thousands of them on the
 * server's thread. A BigUint64Array holds each value in the platform's byte order; HIGH and LOW say
 * where its halves sit in a Uint32Array over the same bytes.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
export const HIGH = LITTLE_ENDIAN ? 1 : 0
export const LOW = 1 - HIGH

/** A 64-bit column's values as 32-bit words (value i at 2i + HIGH and 2i + LOW), without copying. */
export function wordsOf(column: BigUint64Array): Uint32Array {
  return new Uint32Array(column.buffer, column.byteOffset, column.length * 2)
}

const cell = new BigUint64Array(1)
const cellWords = wordsOf(cell)

/** The high 32 bits of `value` (below 2^64). */
export function highWord(value: bigint): number {
  cell[0] = value
  return cellWords[HIGH]!
}

/** The low 32 bits of `value` (below 2^64). */
export function lowWord(value: bigint): number {
  cell[0] = value
  return cellWords[LOW]!
}
