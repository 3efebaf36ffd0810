import { readHeader, type BytesReader } from '@ipld/car/decoder'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { fail } from './errors.js'

/** Room for a section's CID besides its block: ours are 36 bytes, any sane CID is under this. */
const CID_ROOM = 128

/**
 * A `BytesReader` over a stream of chunks that copies as little as it can: `upTo` and `exactly`
 * (what `@ipld/car`'s `readHeader` uses) join the rest of a chunk with the next one only when a
 * read straddles the two, and `take` copies a section straight out of the chunks into a buffer of
 * its own, once. (`@ipld/car`'s own chunk reader copies every chunk again when it reaches its end.)
 */
class ChunkReader implements BytesReader {
  private chunk: Uint8Array = new Uint8Array(0)
  private offset = 0
  private consumed = 0
  /** Bytes a seek went past the end of the current chunk: dropped from the next ones. */
  private skip = 0
  private ended = false
  private readonly chunks: AsyncIterator<Uint8Array>

  constructor (source: AsyncIterable<Uint8Array>) {
    this.chunks = source[Symbol.asyncIterator]()
  }

  get pos (): number {
    return this.consumed
  }

  /** Bytes of the current chunk not read yet. */
  get available (): number {
    return this.chunk.byteLength - this.offset
  }

  /** Reads the next chunk, appending it to what is left of the current one; false at the end. */
  private async more (): Promise<boolean> {
    for (;;) {
      if (this.ended) return false
      const next = await this.chunks.next()
      if (next.done === true) {
        this.ended = true
        return false
      }
      let value = next.value
      if (this.skip > 0) {
        const dropped = Math.min(this.skip, value.byteLength)
        this.skip -= dropped
        value = value.subarray(dropped)
      }
      if (value.byteLength === 0) continue
      if (this.available === 0) this.chunk = value
      else {
        const joined = new Uint8Array(this.available + value.byteLength)
        joined.set(this.chunk.subarray(this.offset))
        joined.set(value, this.available)
        this.chunk = joined
      }
      this.offset = 0
      return true
    }
  }

  async upTo (length: number): Promise<Uint8Array> {
    while (this.available < length && await this.more()) { /* read on */ }
    return this.chunk.subarray(this.offset, this.offset + Math.min(length, this.available))
  }

  async exactly (length: number, seek = false): Promise<Uint8Array> {
    const bytes = await this.upTo(length)
    if (bytes.byteLength < length) throw new Error('Unexpected end of data')
    if (seek) this.seek(length)
    return bytes
  }

  seek (length: number): void {
    this.offset += length
    this.consumed += length
    if (this.offset > this.chunk.byteLength) {
      this.skip += this.offset - this.chunk.byteLength
      this.offset = this.chunk.byteLength
    }
  }

  /** The next `length` bytes, copied out of the chunks into a buffer of their own, and consumed. */
  async take (length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      if (this.available === 0 && !await this.more()) throw new Error('Unexpected end of data')
      const n = Math.min(length - filled, this.available)
      out.set(this.chunk.subarray(this.offset, this.offset + n), filled)
      filled += n
      this.seek(n)
    }
    return out
  }

  /**
   * Reads the varint at the reader's position without consuming it. Undefined at the end of the
   * data; throws (a plain Error, "Unexpected end of data") when the data ends inside it.
   */
  async peekVarint (): Promise<{ value: number, bytes: number } | undefined> {
    const head = this.available >= 10 ? this.chunk.subarray(this.offset, this.offset + 10) : await this.upTo(10)
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
  const reader = new ChunkReader(chunks)
  const declared = await reader.peekVarint()
  if (declared === undefined) throw new Error('the file is empty')
  if (declared.value > maxBlockBytes) throw new Error(`its header would be ${declared.value} bytes`)
  const header = await readHeader(reader)
  // CARv2: the v1 payload ends at dataOffset + dataSize (an index may follow).
  const end = header.version === 2 ? header.dataOffset + header.dataSize : Infinity

  async function * blocks (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
    for (let n = 0; reader.pos < end; n++) {
      const section = await reader.peekVarint()
      if (section === undefined) {
        if (end !== Infinity) throw new Error('Unexpected end of data')
        return
      }
      if (section.value === 0) throw new Error(`section #${n} has zero length`)
      if (section.value > maxBlockBytes + CID_ROOM) {
        throw fail('TOO_LARGE', `block #${n} declares a ${section.value}-byte section, over the ${maxBlockBytes}-byte block limit: not read`)
      }
      reader.seek(section.bytes)
      // A buffer of the section's own, so a kept block does not pin a whole chunk; the block is
      // the part after the CID (no second copy).
      const [cid, block] = CID.decodeFirst(await reader.take(section.value))
      if (block.byteLength > maxBlockBytes) throw fail('TOO_LARGE', `block #${n} (${cid.toString()}) is ${block.byteLength} bytes, over the ${maxBlockBytes}-byte block limit`)
      yield { cid, bytes: block }
    }
  }
  return { roots: header.roots, blocks: blocks() }
}
