import { createHash } from 'node:crypto'
import type { OwnerKey } from './name-system.js'
import { keyPairFromSecret } from './signed-record.js'

const DOMAIN = Buffer.from('remotelog-log-id:')

/** Bytes in a log id. */
export const LOG_ID_BYTES = 16

/**
 * The log id of the log owned by the ed25519 `publicKey`: the first 16 bytes of
 * sha256("remotelog-log-id:" ‖ public key). Written on every page, it lets a store that sees only a
 * page and a signature tell whose log the page is (see `vac.cas.CAS.Release`). Logs created before
 * log ids were derived this way keep the random id their pages carry.
 * @example logIdOfPublicKey(keyPairFromSecret(owner.secret).publicKey)
 */
export function logIdOfPublicKey (publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(DOMAIN).update(publicKey).digest().subarray(0, LOG_ID_BYTES))
}

/** The log id (hex) of a new log owned by `owner`: `logIdOfPublicKey` of the owner's ed25519 key. */
export function logIdOfOwner (owner: OwnerKey): string {
  return Buffer.from(logIdOfPublicKey(keyPairFromSecret(owner.secret).publicKey)).toString('hex')
}
