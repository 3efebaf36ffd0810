import { createHash } from 'node:crypto'
import Hypercore, { type KeyPair, type Manifest } from 'hypercore'
import { base32z } from 'multiformats/bases/base32'
import { fail } from '../../core/errors.js'
import type { OwnerKey } from '../../core/name-system.js'
import { keyPairFromSecret } from '../../core/signed-record.js'

const BACKEND = 'hypercore'
// The same owner secret also signs local/served records; a separate seed keeps the two keys apart.
const SEED_DOMAIN = Buffer.from('remotelog/hypercore-key/v1:')

/**
 * The Hypercore key pair an owner's log is written with, derived from `owner.secret` alone, so the
 * name survives restarts and moves between state dirs.
 * @example const keyPair = hypercoreKeyPair(owner); store.get({ keyPair })
 */
export function hypercoreKeyPair (owner: OwnerKey): KeyPair {
  if (owner.secret.byteLength !== 32) throw fail('INVALID_INPUT', 'an owner secret is 32 bytes', { backend: BACKEND })
  const seed = createHash('sha256').update(SEED_DOMAIN).update(owner.secret).digest()
  const { publicKey } = keyPairFromSecret(seed)
  return { publicKey: Buffer.from(publicKey), secretKey: Buffer.concat([seed, publicKey]) }
}

/**
 * The manifest of a single-signer core written with `keyPair`, as Corestore builds it. Pass it when
 * opening the writer: a core first opened by key alone (a reader's resolve) has no manifest yet.
 */
export function manifestOf (keyPair: KeyPair): Manifest {
  return { version: 1, signers: [{ publicKey: keyPair.publicKey }] }
}

/** The core key (manifest hash) of the core written with `keyPair`. */
export function coreKeyOf (keyPair: KeyPair): Buffer {
  return Hypercore.key(manifestOf(keyPair))
}

/**
 * A log's name: its core key in z-base-32 (the form Hypercore prints as its `id`).
 * @example nameOfCoreKey(core.key) // "yuqnahg3…", 52 characters
 */
export function nameOfCoreKey (key: Uint8Array): string {
  return base32z.baseEncode(key)
}

/** The core key a name stands for; INVALID_INPUT unless it is 52 z-base-32 characters (32 bytes). */
export function coreKeyOfName (name: string): Buffer {
  if (typeof name !== 'string' || !/^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/.test(name)) {
    throw fail('INVALID_INPUT', `not a hypercore name (52 z-base-32 characters): ${String(name)}`, { backend: BACKEND })
  }
  const key = Buffer.from(base32z.baseDecode(name))
  // 52 characters carry 260 bits; a canonical name has zero padding bits, so it round-trips.
  if (key.byteLength !== 32 || nameOfCoreKey(key) !== name) {
    throw fail('INVALID_INPUT', `not a canonical hypercore name: ${name}`, { backend: BACKEND })
  }
  return key
}
