import { BinaryReader, WireType } from '@bufbuild/protobuf/wire'
import type { CID } from 'multiformats/cid'
import { fail } from './errors.js'
import { MAX_OBJECT_BYTES, toCid } from './ids.js'

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

/**
 * Reads a page's header fields and counts its entries without decoding them, so walking a long
 * chain back costs little memory. `decodePage` does the full check when the entries are delivered.
 */
export function decodePageHeader (bytes: Uint8Array, where = 'page'): PageHeader {
  if (bytes.byteLength > MAX_OBJECT_BYTES) throw fail('TOO_LARGE', `${where} is ${bytes.byteLength} bytes, over the ${MAX_OBJECT_BYTES}-byte limit`)
  const header: PageHeader = { format: 0, count: 0, scrubbed: [] }
  let declared = 0
  let firstSeq = 0n
  let length = 0n
  let revision = 0n
  try {
    const reader = new BinaryReader(bytes)
    while (reader.pos < reader.len) {
      const [field, wire] = reader.tag()
      switch (field) {
        case 1: header.count++; reader.skip(wire, field); break
        case 2: { const tail = reader.bytes(); if (tail.byteLength > 0) header.tail = toCid(tail); break }
        case 3: header.format = reader.uint32(); break
        case 4: firstSeq = reader.uint64() as bigint; break
        case 5: declared = reader.uint32(); break
        case 6: length = reader.uint64() as bigint; break
        case 7: revision = reader.uint64() as bigint; break
        case 8:
          if (wire === WireType.LengthDelimited) {
            const packed = new BinaryReader(reader.bytes())
            while (packed.pos < packed.len) header.scrubbed.push(Number(packed.uint64()))
          } else header.scrubbed.push(Number(reader.uint64()))
          break
        case 9: { const id = reader.bytes(); if (id.byteLength > 0) header.logId = id; break }
        default: reader.skip(wire, field)
      }
    }
  } catch (cause) {
    if ((cause as { name?: string }).name === 'RemoteLogError') throw cause
    throw fail('MALFORMED', `${where} does not decode as vac.remotelog.RemoteLog`, { cause })
  }
  if (header.format >= 1) {
    if (declared !== header.count) throw fail('MALFORMED', `${where} says ${declared} entries but holds ${header.count}`)
    header.firstSeq = Number(firstSeq)
    header.length = Number(length)
    header.revision = Number(revision)
    if (header.length !== header.firstSeq + header.count) throw fail('MALFORMED', `${where}: length ${header.length} is not first_seq ${header.firstSeq} + ${header.count} entries`)
  }
  return header
}
