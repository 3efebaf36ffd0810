import { BinaryReader, WireType } from '@bufbuild/protobuf/wire'
import type { CID } from 'multiformats/cid'
import { fail, isRemoteLogError } from './errors.js'
import { MAX_OBJECT_BYTES, toCid } from './ids.js'

/** The page format version we write (and the newest we read). Pages with format 0 are RFC pages without our header. */
export const PAGE_FORMAT = 1

/** A page without its entries: what a reader needs to walk the chain. */
export interface PageHeader {
  format: number
  firstSeq?: number
  count: number
  length?: number
  revision?: number
  tail?: CID
  scrubbed: number[]
  logId?: Uint8Array
}

/** What a page says about itself, apart from its entries and links. */
export interface PageClaims {
  format: number
  firstSeq?: number
  /** Entries the page holds (counted, not the declared count). */
  count: number
  length?: number
  revision?: number
  scrubbed: readonly number[]
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/**
 * The one check of what a page claims about itself, used by every decoder (`decodePageHeader`,
 * `decodePage`) and so by the reader, `walkChain`, packs, scrub and restore. Throws MALFORMED
 * naming `where` unless: the format is one this code reads; first_seq, length and revision are
 * non-negative safe integers; length = first_seq + the entries held; and the scrubbed list holds
 * integers, strictly ascending (so no duplicates), each >= 0 and < the log length the page claims.
 * (Format 0 RFC pages claim no length; their scrubbed list, normally absent, must still be sorted.)
 * @example checkPageClaims(`page ${id}`, header)
 */
export function checkPageClaims (where: string, page: PageClaims): void {
  if (!isCount(page.format)) throw fail('MALFORMED', `${where}: format ${String(page.format)} is not a version number`)
  if (page.format > PAGE_FORMAT) throw fail('MALFORMED', `${where} is page format ${page.format}; this remotelog reads formats 0 to ${PAGE_FORMAT}`)
  if (!isCount(page.count)) throw fail('MALFORMED', `${where}: entry count ${String(page.count)} is not a count`)
  if (page.format >= 1) {
    const fields: Array<[string, unknown]> = [['first_seq', page.firstSeq], ['length', page.length], ['revision', page.revision]]
    for (const [what, n] of fields) {
      if (!isCount(n)) throw fail('MALFORMED', `${where}: ${what} ${String(n)} is not a non-negative integer`)
    }
    if (page.length !== page.firstSeq! + page.count) {
      throw fail('MALFORMED', `${where}: length ${page.length} is not first_seq ${page.firstSeq} + ${page.count} entries`)
    }
  }
  let previous = -1
  for (let i = 0; i < page.scrubbed.length; i++) {
    const s = page.scrubbed[i]
    if (!isCount(s)) throw fail('MALFORMED', `${where}: scrubbed[${i}] = ${String(s)} is not a sequence number`)
    if (s === previous) throw fail('MALFORMED', `${where}: the scrubbed list names sequence ${s} twice`)
    if (s < previous) throw fail('MALFORMED', `${where}: the scrubbed list is not in ascending order (${previous} before ${s})`)
    if (page.length !== undefined && s >= page.length) {
      throw fail('MALFORMED', `${where}: the scrubbed list names sequence ${s}, outside the log's ${page.length} entries`)
    }
    previous = s
  }
}

/**
 * Throws MALFORMED when `entries` disagree with a scrubbed list: an entry the list names that is
 * not a tombstone, or — when `complete` (the list is the log head's, which names every scrubbed
 * sequence) — a tombstone the list does not name.
 * @example checkScrubbedEntries(`page ${id}`, page.entries, new Set(head.scrubbed), true)
 */
export function checkScrubbedEntries (where: string, entries: ReadonlyArray<{ seq: number, tombstone?: boolean }>, scrubbed: ReadonlySet<number>, complete: boolean): void {
  for (const e of entries) {
    const listed = scrubbed.has(e.seq)
    if (listed && e.tombstone !== true) throw fail('MALFORMED', `${where}: entry ${e.seq} is listed as scrubbed but still carries its payload`)
    if (complete && !listed && e.tombstone === true) throw fail('MALFORMED', `${where}: entry ${e.seq} is a tombstone the head's scrubbed list does not name`)
  }
}

/** The wire type each known field must have (field 8, repeated, may also be packed). */
const WIRE: Record<number, WireType> = {
  1: WireType.LengthDelimited,
  2: WireType.LengthDelimited,
  3: WireType.Varint,
  4: WireType.Varint,
  5: WireType.Varint,
  6: WireType.Varint,
  7: WireType.Varint,
  8: WireType.Varint,
  9: WireType.LengthDelimited
}

/**
 * Reads a page's header fields and counts its entries without decoding them, so walking a long
 * chain back costs little memory, and checks every claim of the header (`checkPageClaims`).
 * `decodePage` uses it too, then checks the entries.
 */
export function decodePageHeader (bytes: Uint8Array, where = 'page'): PageHeader {
  if (bytes.byteLength > MAX_OBJECT_BYTES) throw fail('TOO_LARGE', `${where} is ${bytes.byteLength} bytes, over the ${MAX_OBJECT_BYTES}-byte limit`)
  const header: PageHeader = { format: 0, count: 0, scrubbed: [] }
  const safe = (n: bigint, what: string): number => {
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('MALFORMED', `${where}: ${what} ${n} is out of range`)
    return Number(n)
  }
  let declared = 0
  let firstSeq = 0
  let length = 0
  let revision = 0
  let tail: Uint8Array | undefined
  try {
    const reader = new BinaryReader(bytes)
    while (reader.pos < reader.len) {
      const [field, wire] = reader.tag()
      const want = WIRE[field]
      if (want !== undefined && wire !== want && !(field === 8 && wire === WireType.LengthDelimited)) {
        throw fail('MALFORMED', `${where}: field ${field} has wire type ${wire}, not ${want}`)
      }
      switch (field) {
        case 1: header.count++; reader.skip(wire, field); break
        case 2: tail = reader.bytes(); break
        case 3: header.format = reader.uint32(); break
        case 4: firstSeq = safe(reader.uint64() as bigint, 'first_seq'); break
        case 5: declared = reader.uint32(); break
        case 6: length = safe(reader.uint64() as bigint, 'length'); break
        case 7: revision = safe(reader.uint64() as bigint, 'revision'); break
        case 8:
          if (wire === WireType.LengthDelimited) {
            const packed = new BinaryReader(reader.bytes())
            while (packed.pos < packed.len) header.scrubbed.push(safe(packed.uint64() as bigint, `scrubbed[${header.scrubbed.length}]`))
          } else header.scrubbed.push(safe(reader.uint64() as bigint, `scrubbed[${header.scrubbed.length}]`))
          break
        case 9: { const id = reader.bytes(); header.logId = id.byteLength > 0 ? id : undefined; break }
        default: reader.skip(wire, field)
      }
    }
  } catch (cause) {
    if (isRemoteLogError(cause)) throw cause
    throw fail('MALFORMED', `${where} does not decode as vac.remotelog.RemoteLog`, { cause })
  }
  if (tail !== undefined && tail.byteLength > 0) {
    try {
      header.tail = toCid(tail)
    } catch (cause) {
      throw fail('MALFORMED', `${where}: its tail is not a remotelog id`, { cause })
    }
  }
  if (header.format >= 1) {
    if (declared !== header.count) throw fail('MALFORMED', `${where} says ${declared} entries but holds ${header.count}`)
    header.firstSeq = firstSeq
    header.length = length
    header.revision = revision
  }
  checkPageClaims(where, header)
  return header
}
