import { asyncIterableReader, readHeader, type BytesReader } from '@ipld/car/decoder'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { fail } from './errors.js'

/** Room for a section's CID besides its block: ours are 36 bytes, any sane CID is under this. */
const CID_ROOM = 128

/**
 * Reads the varint at the reader's position without consuming it. Undefined at the end of the
 * data; throws (a plain Error, "Unexpected end of data") when the data ends inside it.
 */
async function peekVarint (reader: BytesReader): Promise<{ value: number, bytes: number } | undefined> {
  const head = await reader.upTo(10)
  if (head.byteLength === 0) return undefined
  let value: number
  let bytes: number
  try {
    [value, bytes] = varint.decode(head)
  } catch (cause) {
    if (head.byteLength < 10 && head.every(b => b >= 0x80)) throw new Error('Unexpected end of data', { cause })
    throw new Error(`invalid section length varint (${(cause as Error).message})`, { cause })
  }
  return { value, bytes }
}

/** A CARv1 stream opened for one pass: its roots and its blocks (sections) in order. */
export interface CarSections {
  roots: CID[]
  blocks: AsyncGenerator<{ cid: CID, bytes: Uint8Array }>
}

/**
 * Reads a CAR (v1; v2 by its inner v1 payload) from a stream of chunks one section at a time,
 * holding at most one section. Each section's length varint is read first: a block declared over
 * `maxBlockBytes` is refused with TOO_LARGE before any of it is read (a header declared over the
 * same limit is not a CAR), so a file claiming a huge block costs no memory. The header is decoded by
 * `@ipld/car`; CIDs by `multiformats`. Other problems (not a CAR, truncated, bad CID) are thrown
 * as plain Errors for the caller to word.
 * @example
 * const car = await readCarSections(createReadStream(file), MAX_OBJECT_BYTES)
 * for await (const { cid, bytes } of car.blocks) …
 */
export async function readCarSections (chunks: AsyncIterable<Uint8Array>, maxBlockBytes: number): Promise<CarSections> {
  const reader = asyncIterableReader(chunks)
  const declared = await peekVarint(reader)
  if (declared === undefined) throw new Error('the file is empty')
  if (declared.value > maxBlockBytes) throw new Error(`its header would be ${declared.value} bytes`)
  const header = await readHeader(reader)
  // CARv2: the v1 payload ends at dataOffset + dataSize (an index may follow).
  const end = header.version === 2 ? header.dataOffset + header.dataSize : Infinity

  async function * blocks (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
    for (let n = 0; reader.pos < end; n++) {
      const section = await peekVarint(reader)
      if (section === undefined) {
        if (end !== Infinity) throw new Error('Unexpected end of data')
        return
      }
      if (section.value === 0) throw new Error(`section #${n} has zero length`)
      if (section.value > maxBlockBytes + CID_ROOM) {
        throw fail('TOO_LARGE', `block #${n} declares a ${section.value}-byte section, over the ${maxBlockBytes}-byte block limit: not read`)
      }
      reader.seek(section.bytes)
      const bytes = await reader.exactly(section.value, true)
      const [cid, block] = CID.decodeFirst(bytes)
      if (block.byteLength > maxBlockBytes) throw fail('TOO_LARGE', `block #${n} (${cid.toString()}) is ${block.byteLength} bytes, over the ${maxBlockBytes}-byte block limit`)
      // Copy out of the reader's chunk buffer, so a kept block does not pin a whole chunk.
      yield { cid, bytes: block.slice() }
    }
  }
  return { roots: header.roots, blocks: blocks() }
}
