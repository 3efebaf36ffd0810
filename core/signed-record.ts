import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { base32 } from 'multiformats/bases/base32'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { fail } from './errors.js'

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')
const DOMAIN = Buffer.from('remotelog-record:')

export interface Ed25519KeyPair {
  publicKey: Uint8Array
  privateKey: KeyObject
}

// Importing a key costs more than signing with it; publishers and resolvers reuse a few keys.
const keyPairs = new Map<string, Ed25519KeyPair>()
const publicKeys = new Map<string, KeyObject>()
const remember = <T>(cache: Map<string, T>, key: string, value: T): T => {
  if (cache.size >= 1024) cache.clear()
  cache.set(key, value)
  return value
}

/** The ed25519 key pair of a 32-byte secret. */
export function keyPairFromSecret (secret: Uint8Array): Ed25519KeyPair {
  if (secret.byteLength !== 32) throw fail('INVALID_INPUT', 'an owner secret is 32 bytes')
  const id = Buffer.from(secret).toString('hex')
  const known = keyPairs.get(id)
  if (known !== undefined) return known
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secret]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return remember(keyPairs, id, { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), privateKey })
}

/** The key object of a raw 32-byte ed25519 public key, for `verify` (throws on one that is not a key). */
export function publicKeyObject (raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('hex')
  return publicKeys.get(id) ?? remember(publicKeys, id, createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' }))
}

/** A name in the local and served name systems: the base32 multibase of the ed25519 public key. */
export function nameOfPublicKey (publicKey: Uint8Array): string {
  return base32.encode(publicKey)
}

export function publicKeyOfName (name: string): Uint8Array {
  let key: Uint8Array
  try {
    key = base32.decode(name)
  } catch (cause) {
    throw fail('INVALID_INPUT', `not a remotelog name (base32 ed25519 key): ${name}`, { cause })
  }
  if (key.byteLength !== 32) throw fail('INVALID_INPUT', `not a remotelog name (base32 ed25519 key): ${name}`)
  return key
}

export interface SignedRecord {
  value: Uint8Array
  sequence: number
  publicKey: Uint8Array
  signature: Uint8Array
}

function signedBytes (name: string, sequence: number, value: Uint8Array): Buffer {
  const seq = Buffer.alloc(8)
  seq.writeBigUInt64BE(BigInt(sequence))
  return Buffer.concat([DOMAIN, Buffer.from(name), Buffer.from([0]), seq, value])
}

/** Signs `value` for `name` at `sequence`, as `vac.remotelog.SignedRecord` bytes. */
export function signRecord (name: string, sequence: number, value: Uint8Array, keys: Ed25519KeyPair): Uint8Array {
  const signature = sign(null, signedBytes(name, sequence, value), keys.privateKey)
  return toBinary(SignedRecordSchema, create(SignedRecordSchema, {
    value, sequence: BigInt(sequence), publicKey: keys.publicKey, signature
  }))
}

/**
 * Decodes a record and checks it is signed by the key `name` stands for.
 * MALFORMED if it does not decode, PERMISSION if another key signed it, INTEGRITY if the signature is bad.
 */
export function openRecord (name: string, bytes: Uint8Array, backend?: string): SignedRecord {
  let message
  try {
    message = fromBinary(SignedRecordSchema, bytes)
  } catch (cause) {
    throw fail('MALFORMED', `record for ${name} does not decode`, { cause, backend })
  }
  const expected = publicKeyOfName(name)
  if (Buffer.compare(Buffer.from(message.publicKey), Buffer.from(expected)) !== 0) {
    throw fail('PERMISSION', `record for ${name} is signed by another key`, { backend })
  }
  if (message.sequence > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('MALFORMED', `record for ${name} has sequence ${message.sequence}, out of range`, { backend })
  const sequence = Number(message.sequence)
  if (!verify(null, signedBytes(name, sequence, message.value), publicKeyObject(expected), message.signature)) {
    throw fail('INTEGRITY', `record for ${name} has a forged signature`, { backend })
  }
  return { value: message.value, sequence, publicKey: expected, signature: message.signature }
}
