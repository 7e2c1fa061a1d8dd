import { MAX_ID_BYTES, MAX_ORIGIN_LENGTH, MAX_REALM_LENGTH } from './constants.ts'

const REALM_PATTERN = /^[A-Za-z0-9._-]+$/

/** Realm names go into topic names and metric labels, hence the plain alphabet. */
export function isValidRealm(realm: string): boolean {
  return realm.length > 0 && realm.length <= MAX_REALM_LENGTH && REALM_PATTERN.test(realm)
}

export function isValidId(id: Uint8Array): boolean {
  return id.byteLength > 0 && id.byteLength <= MAX_ID_BYTES
}

export function isValidOrigin(origin: string): boolean {
  return origin.length > 0 && origin.length <= MAX_ORIGIN_LENGTH
}
