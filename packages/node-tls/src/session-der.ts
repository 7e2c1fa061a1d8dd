/** TLS 1.3, as OpenSSL writes it into SSL_SESSION.ssl_version. */
export const TLS1_3_VERSION = 0x0304

/**
 * Reads `ssl_version` from OpenSSL's DER SSL_SESSION (SEQUENCE { INTEGER 1, INTEGER ssl_version, ...})
 * without a general ASN.1 parser: two fields at fixed positions after the SEQUENCE header.
 * Returns undefined when the bytes are not in that form.
 */
export function sessionProtocolVersion(der: Uint8Array): number | undefined {
  if (der.length < 8 || der[0] !== 0x30) return undefined
  let offset = 1
  const first = der[offset++] ?? 0
  if (first & 0x80) offset += first & 0x7f
  // version INTEGER 1
  if (der[offset] !== 0x02 || der[offset + 1] !== 0x01 || der[offset + 2] !== 0x01) return undefined
  offset += 3
  if (der[offset] !== 0x02) return undefined
  const length = der[offset + 1] ?? 0
  if (length < 1 || length > 2 || offset + 2 + length > der.length) return undefined
  let version = 0
  for (let i = 0; i < length; i++) version = (version << 8) | (der[offset + 2 + i] ?? 0)
  return version
}
