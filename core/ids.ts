import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { fail } from './errors.js'

/** Multicodec `raw`: every object we store is an opaque block. */
export const RAW_CODEC = 0x55
const SHA2_256 = 0x12

/** IPFS block limit: no single stored object may be larger. */
export const MAX_OBJECT_BYTES = 1024 * 1024

/** The SHA-256 digest of `bytes` (the default message id). */
export function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** The CAS id of `bytes`: CIDv1, codec raw, sha2-256 (`bafkrei…`). */
export function cidOf (bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, sha256(bytes)))
}

/** Parses an id given as a CID, its string form or its binary form. */
export function toCid (id: CID | string | Uint8Array): CID {
  try {
    const cid = typeof id === 'string' ? CID.parse(id) : id instanceof Uint8Array ? CID.decode(id) : CID.asCID(id)
    if (cid === null) throw new Error('not a CID')
    if (cid.version !== 1 || cid.code !== RAW_CODEC || cid.multihash.code !== SHA2_256) {
      throw new Error(`expected CIDv1 raw sha2-256, got ${cid.toString()}`)
    }
    return cid
  } catch (cause) {
    if ((cause as { code?: string }).code !== undefined) throw cause
    throw fail('INVALID_INPUT', `not a remotelog id: ${String(id instanceof Uint8Array ? Buffer.from(id).toString('hex') : id)}`, { cause })
  }
}

/** Throws INTEGRITY unless `bytes` hash to `id`. Every `get` of every store calls it. */
export function verifyBytes (id: CID, bytes: Uint8Array, backend?: string): Uint8Array {
  const actual = cidOf(bytes)
  if (!actual.equals(id)) {
    throw fail('INTEGRITY', `bytes returned for ${String(id)} hash to ${actual.toString()}`, { backend })
  }
  return bytes
}

/** Throws TOO_LARGE for objects over the 1 MiB block limit. */
export function checkSize (bytes: Uint8Array, backend?: string): void {
  if (bytes.byteLength > MAX_OBJECT_BYTES) {
    throw fail('TOO_LARGE', `object of ${bytes.byteLength} bytes exceeds the ${MAX_OBJECT_BYTES}-byte block limit`, { backend })
  }
}
