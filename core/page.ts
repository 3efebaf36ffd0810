import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire'
import type { CID } from 'multiformats/cid'
import { RemoteLogSchema, RemoteLog_PairSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { fail } from './errors.js'
import { cidOf, toCid } from './ids.js'
import { mvdsId } from './mvds.js'
import { checkScrubbedEntries, decodePageHeader, PAGE_FORMAT } from './page-header.js'

export { PAGE_FORMAT }

/** One log entry as stored in a page. */
export interface Entry {
  seq: number
  /** The endpoint's message id (MVDS id or sha256 of the payload). */
  localHash: Uint8Array
  /** CAS id of the payload (pointer and hybrid modes). */
  remoteHash?: CID
  /** Inline payload (inline and hybrid modes). */
  data?: Uint8Array
  /** Scrubbed: no payload, sequence and localHash stay. */
  tombstone?: boolean
  /** MVDS fields, when the entry is an MVDS message. */
  groupId?: Uint8Array
  timestamp?: bigint
}

export interface Page {
  format: number
  /** Sequence number of entries[0]; undefined on RFC pages (format 0). */
  firstSeq?: number
  entries: Entry[]
  tail?: CID
  /** Log length up to and including this page. */
  length?: number
  revision?: number
  scrubbed: number[]
  /** Random id of the log the page belongs to. */
  logId?: Uint8Array
}

// The head page is re-encoded on every publish with mostly the same entries: each entry's Pair
// bytes are encoded once and reused. Entries are never mutated after they are made.
const pairBytes = new WeakMap<Entry, Uint8Array>()

function encodePair (e: Entry): Uint8Array {
  let bytes = pairBytes.get(e)
  if (bytes === undefined) {
    bytes = toBinary(RemoteLog_PairSchema, create(RemoteLog_PairSchema, {
      remoteHash: e.remoteHash?.bytes,
      localHash: e.localHash,
      data: e.data,
      tombstone: e.tombstone === true,
      groupId: e.groupId,
      timestamp: e.timestamp
    }))
    pairBytes.set(e, bytes)
  }
  return bytes
}

/**
 * Encodes a page: the pairs (field 1), then the rest of the message — the same bytes, in field
 * order, as encoding the whole message at once. The header fields are written only for format ≥ 1.
 */
export function encodePage (page: Page): Uint8Array {
  const pairs = new BinaryWriter()
  for (const e of page.entries) pairs.tag(1, WireType.LengthDelimited).bytes(encodePair(e))
  const rest = create(RemoteLogSchema, {
    tail: page.tail?.bytes,
    format: page.format,
    firstSeq: BigInt(page.firstSeq ?? 0),
    count: page.entries.length,
    length: BigInt(page.length ?? 0),
    revision: BigInt(page.revision ?? 0),
    scrubbed: page.scrubbed.map(BigInt),
    logId: page.logId
  })
  return Buffer.concat([pairs.finish(), toBinary(RemoteLogSchema, rest)])
}

/**
 * Decodes and checks a page: decodable, not over the size limit, every header claim checked
 * (`decodePageHeader`: count, first_seq, length, revision, scrubbed list), inline payloads matching
 * their remoteHash, MVDS ids matching their fields, and every entry the page's own scrubbed list
 * names a tombstone. Throws MALFORMED (or INTEGRITY for a payload/id mismatch) with what is wrong.
 */
export function decodePage (bytes: Uint8Array, where = 'page'): Page {
  const header = decodePageHeader(bytes, where)
  let message
  try {
    message = fromBinary(RemoteLogSchema, bytes)
  } catch (cause) {
    throw fail('MALFORMED', `${where} does not decode as vac.remotelog.RemoteLog`, { cause })
  }
  if (message.pair.length !== header.count) throw fail('MALFORMED', `${where} holds ${message.pair.length} entries, not the ${header.count} its fields count`)
  const firstSeq = header.firstSeq
  const entries = message.pair.map((p, i): Entry => {
    const entry: Entry = { seq: (firstSeq ?? 0) + i, localHash: p.localHash }
    if (p.remoteHash.byteLength > 0) {
      try {
        entry.remoteHash = toCid(p.remoteHash)
      } catch (cause) {
        throw fail('MALFORMED', `${where}: remoteHash of entry ${i} is not a remotelog id`, { cause })
      }
    }
    if (p.data.byteLength > 0 || (entry.remoteHash === undefined && !p.tombstone)) entry.data = p.data
    if (p.tombstone) {
      if (entry.remoteHash !== undefined || p.data.byteLength > 0) throw fail('MALFORMED', `${where}: tombstone at entry ${i} still carries a payload`)
      entry.tombstone = true
    }
    if (p.groupId.byteLength > 0) {
      entry.groupId = p.groupId
      entry.timestamp = p.timestamp
    }
    if (entry.data !== undefined && entry.remoteHash !== undefined && !cidOf(entry.data).equals(entry.remoteHash)) {
      throw fail('INTEGRITY', `${where}: inline payload of entry ${i} does not match its remoteHash`)
    }
    if (entry.data !== undefined && entry.groupId !== undefined && !equalBytes(mvdsId(entry.groupId, entry.timestamp ?? 0n, entry.data), entry.localHash)) {
      throw fail('INTEGRITY', `${where}: MVDS id of entry ${i} does not match its payload`)
    }
    return entry
  })
  const page: Page = { format: header.format, firstSeq, entries, scrubbed: header.scrubbed }
  if (header.tail !== undefined) page.tail = header.tail
  if (header.logId !== undefined) page.logId = header.logId
  if (header.format >= 1) {
    page.length = header.length
    page.revision = header.revision
    checkScrubbedEntries(where, entries, new Set(header.scrubbed), false)
  }
  return page
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
