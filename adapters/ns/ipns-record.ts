// IPNS names, keys and records for the `ipns` name system: everything both ways of reaching IPNS
// (embedded Helia, a Kubo RPC node) share. Records are built and checked with the `ipns` package.
import { generateKeyPairFromSeed, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString, peerIdFromCID } from '@libp2p/peer-id'
import { createIPNSRecord, marshalIPNSRecord, multihashToIPNSRoutingKey, unmarshalIPNSRecord, type IPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { RAW_CODEC } from '../../core/ids.js'
import type { HeadRecord } from '../../core/name-system.js'

export const BACKEND = 'ipns'

/** How long a record stays valid (its signed EOL) unless `lifetimeMs` says otherwise: 30 days. */
export const DEFAULT_LIFETIME_MS = 30 * 24 * 3600_000
/** The record's TTL (how long a resolver may answer from its cache): one minute. */
export const DEFAULT_TTL_MS = 60_000

/** An IPNS name: the libp2p key CID (`k51…`), its peer id and its routing key (`/ipns/` ‖ multihash). */
export interface IpnsName {
  /** Canonical text: CIDv1, codec libp2p-key, base36 (`k51…`). */
  name: string
  peerId: PeerId
  routingKey: Uint8Array
}

const keys = new Map<string, Promise<Ed25519PrivateKey>>()

/**
 * The log's IPNS key: the ed25519 key whose seed is the log's 32-byte secret (the same key the
 * local and served name systems sign with), as a libp2p private key.
 */
export async function ipnsKeyOf (secret: Uint8Array): Promise<Ed25519PrivateKey> {
  if (!(secret instanceof Uint8Array) || secret.byteLength !== 32) throw fail('INVALID_INPUT', 'an owner secret is 32 bytes', { backend: BACKEND })
  const id = Buffer.from(secret).toString('hex')
  let key = keys.get(id)
  if (key === undefined) {
    if (keys.size >= 256) keys.clear()
    key = generateKeyPairFromSeed('Ed25519', secret)
    keys.set(id, key)
  }
  return await key
}

/** The `k51…` name of a key. */
export function ipnsNameOfKey (key: Ed25519PrivateKey): IpnsName {
  return nameOfPeer(peerIdFromPrivateKey(key))
}

function nameOfPeer (peerId: PeerId): IpnsName {
  return { name: peerId.toCID().toString(base36), peerId, routingKey: multihashToIPNSRoutingKey(peerId.toMultihash()) }
}

/**
 * Parses an IPNS name: the `k51…` CID our addresses use, or another spelling of the same key (any
 * multibase of the libp2p-key CID, or a `12D3Koo…` peer id). INVALID_INPUT when it is none, or not an
 * ed25519 key (the only kind a remotelog log has).
 */
export function parseIpnsName (text: string): IpnsName {
  const name = text.replace(/^\/ipns\//, '')
  let peerId: PeerId
  try {
    peerId = /^(1|Qm)/.test(name) ? peerIdFromString(name) : peerIdFromCID(CID.parse(name, name.startsWith('k') ? base36 : undefined))
  } catch (cause) {
    throw fail('INVALID_INPUT', `not an IPNS name (a libp2p key, e.g. k51qzi5uqu5…): ${text}`, { backend: BACKEND, cause })
  }
  if (peerId.type !== 'Ed25519') throw fail('INVALID_INPUT', `${text} is an IPNS name of a ${peerId.type} key; remotelog logs have ed25519 keys`, { backend: BACKEND })
  return nameOfPeer(peerId)
}

/** The IPNS value of a head: `/ipfs/<head CID>`, what any IPFS client resolves to the head page. */
export function valueOfHead (head: CID): string {
  return `/ipfs/${head.toString()}`
}

/** The head page a record's value points at; MALFORMED unless it is `/ipfs/<raw CIDv1>` and nothing more. */
export function headOfValue (value: string, where: string): CID {
  const match = /^\/ipfs\/([^/]+)$/.exec(value)
  let head: CID | undefined
  try {
    if (match !== null) head = CID.parse(match[1])
  } catch {}
  if (head === undefined || head.version !== 1 || head.code !== RAW_CODEC) {
    throw fail('MALFORMED', `${where} points at ${JSON.stringify(value.slice(0, 120))}, not at a remotelog head page (/ipfs/<raw CIDv1>)`, { backend: BACKEND })
  }
  return head
}

export interface RecordTimes {
  /** Validity (signed end of life) from now. */
  lifetimeMs: number
  /** TTL: how long resolvers may cache it. */
  ttlMs: number
}

/**
 * The IPNS record of a head: value `/ipfs/<head>`, sequence = the log's revision, validity EOL =
 * now + lifetime, TTL; signed with V2 (and V1, so older IPFS nodes resolve it too), as the `ipns`
 * package builds it. Returns its protobuf bytes.
 */
export async function signHeadRecord (key: Ed25519PrivateKey, record: HeadRecord, times: RecordTimes): Promise<Uint8Array> {
  const signed = await createIPNSRecord(key, valueOfHead(record.head), BigInt(record.revision), times.lifetimeMs, {
    v1Compatible: true,
    ttlNs: BigInt(Math.round(times.ttlMs)) * 1_000_000n
  })
  return marshalIPNSRecord(signed)
}

/** A record that passed the `ipns` package's validator for its name. */
export interface CheckedRecord {
  bytes: Uint8Array
  record: IPNSRecord
  sequence: number
  head: CID
}

/**
 * Validates record bytes for a name with the `ipns` package (signature V2 by the name's key, EOL not
 * passed, size) and reads its head. MALFORMED when it does not decode or its value is no head;
 * INTEGRITY when the signature is not the name's key's or it has expired.
 */
export async function checkRecord (name: IpnsName, bytes: Uint8Array): Promise<CheckedRecord> {
  let record: IPNSRecord
  try {
    record = unmarshalIPNSRecord(bytes)
  } catch (cause) {
    throw fail('MALFORMED', `record for ipns:${name.name} does not decode`, { backend: BACKEND, cause })
  }
  try {
    await ipnsValidator(name.routingKey, bytes)
  } catch (cause) {
    if (isRemoteLogError(cause)) throw cause
    throw fail('INTEGRITY', `record for ipns:${name.name} is not valid: ${(cause as Error).message}`, { backend: BACKEND, cause })
  }
  return { bytes, record, sequence: Number(record.sequence), head: headOfValue(record.value, `the record of ipns:${name.name}`) }
}

/**
 * The log's key in the protobuf form libp2p and Kubo exchange keys in (`key import
 * --format=libp2p-protobuf-cleartext`).
 */
export function keyProtobuf (key: Ed25519PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key)
}
