import { sign, verify } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { fail } from './errors.js'
import { toCid } from './ids.js'
import { keyPairFromSecret, publicKeyObject, type Ed25519KeyPair } from './signed-record.js'

const DOMAIN = Buffer.from('remotelog-release:')

/** How long a release a writer signs stays valid. */
export const RELEASE_VALID_MS = 5 * 60_000

/** How far ahead of its clock a service accepts a release's `notAfter` (clock skew included). */
export const RELEASE_MAX_AHEAD_MS = 10 * 60_000

/** A `vac.cas.SignedRelease`: the owner of a log asks a store to delete one of its replaced pages. */
export interface SignedRelease {
  /** The page. */
  id: CID
  /** Last moment the request is valid, ms since the Unix epoch. */
  notAfter: number
  /** The log owner's ed25519 public key (32 bytes). */
  publicKey: Uint8Array
  signature: Uint8Array
}

function signedBytes (id: CID, notAfter: number): Buffer {
  const time = Buffer.alloc(8)
  time.writeBigUInt64BE(BigInt(notAfter))
  return Buffer.concat([DOMAIN, id.bytes, time])
}

/**
 * Signs the release of page `id` with the owner's key, valid until `notAfter` (default: now +
 * RELEASE_VALID_MS). The signature covers "remotelog-release:" ‖ binary CID ‖ uint64be(notAfter).
 * @example signRelease(page, keyPairFromSecret(owner.secret))
 */
export function signRelease (id: CID, keys: Ed25519KeyPair, notAfter = Date.now() + RELEASE_VALID_MS): SignedRelease {
  return { id, notAfter, publicKey: keys.publicKey, signature: sign(null, signedBytes(id, notAfter), keys.privateKey) }
}

/** `signRelease` with the key of an owner secret. */
export function signReleaseAs (id: CID, secret: Uint8Array, notAfter?: number): SignedRelease {
  return signRelease(id, keyPairFromSecret(secret), notAfter)
}

/**
 * Checks a release as it came off the wire, at time `now`: INVALID_INPUT for a bad id, key or
 * window more than RELEASE_MAX_AHEAD_MS ahead; CONFLICT once `notAfter` has passed; PERMISSION for a
 * signature that is not the key's over these bytes. Returns it with the id parsed.
 */
export function openRelease (wire: { id: Uint8Array, notAfter: bigint, publicKey: Uint8Array, signature: Uint8Array }, now = Date.now()): SignedRelease {
  const id = toCid(wire.id)
  if (wire.publicKey.byteLength !== 32) throw fail('INVALID_INPUT', `a release's public key is 32 bytes (ed25519), not ${wire.publicKey.byteLength}`)
  if (wire.notAfter > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('INVALID_INPUT', `a release's not_after ${wire.notAfter} is out of range`)
  const notAfter = Number(wire.notAfter)
  if (notAfter < now) throw fail('CONFLICT', `the release of ${id.toString()} expired at ${new Date(notAfter).toISOString()} (service clock ${new Date(now).toISOString()}); sign a new one`)
  if (notAfter > now + RELEASE_MAX_AHEAD_MS) {
    throw fail('INVALID_INPUT', `the release of ${id.toString()} is valid until ${new Date(notAfter).toISOString()}, more than ${RELEASE_MAX_AHEAD_MS / 60_000} minutes ahead of the service clock ${new Date(now).toISOString()}`)
  }
  let valid = false
  try {
    valid = wire.signature.byteLength === 64 && verify(null, signedBytes(id, notAfter), publicKeyObject(wire.publicKey), wire.signature)
  } catch {}
  if (!valid) {
    throw fail('PERMISSION', `the release of ${id.toString()} has a forged signature`)
  }
  return { id, notAfter, publicKey: wire.publicKey, signature: wire.signature }
}
