import { open, type FileHandle } from 'node:fs/promises'
import { close as closeHeader, createWriter, headerLength } from '@ipld/car/buffer-writer'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'

/** Bytes gathered before one write to the file (the last write may be shorter). */
export const PACK_WRITE_CHUNK = 1 << 20

/** A CARv1 file being written block by block, in large writes. */
export interface PackFileWriter {
  /**
   * Appends a block (its section: length, CID, bytes). Resolves at once while the current chunk
   * fills; when it is full, once the previous chunk's write is done and this one's has started.
   */
  put: (cid: CID, bytes: Uint8Array) => Promise<void>
  /** Writes what is left and closes the file; resolves with the file's size. */
  close: () => Promise<number>
  /** Closes the file without writing what is left (after an error); never rejects. */
  destroy: () => Promise<void>
}

/** The CARv1 header for `roots`, as `@ipld/car` writes it (length varint, then dag-cbor). */
function carHeader (roots: CID[]): Uint8Array {
  const writer = createWriter(new ArrayBuffer(headerLength({ roots })), { roots })
  return closeHeader(writer)
}

async function writeAll (handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) {
    const { bytesWritten } = await handle.write(bytes, at, bytes.byteLength - at)
    at += bytesWritten
  }
}

/**
 * Creates (or truncates) `path` and writes a CARv1 pack to it: the header with `roots`, then each
 * block put, byte for byte what `@ipld/car`'s `CarWriter` writes. Sections are gathered into
 * chunks of `PACK_WRITE_CHUNK` bytes, each written with one call while the next one fills (one write
 * in flight): memory holds at most two chunks and a block, and a log of small blocks costs one
 * write per chunk, not three per block.
 * @example
 * const car = await openPackFile('out.car.partial', [head, manifestId])
 * await car.put(manifestId, manifest)
 * const size = await car.close()
 */
export async function openPackFile (path: string, roots: CID[]): Promise<PackFileWriter> {
  const handle = await open(path, 'w')
  let parts: Uint8Array[] = [carHeader(roots)]
  let buffered = parts[0].byteLength
  let size = 0
  let writing: Promise<void> | undefined
  let closed = false

  /** Starts writing the buffered parts as one chunk, after the write in flight. */
  const flush = async (): Promise<void> => {
    if (writing !== undefined) await writing
    if (buffered === 0) return
    const chunk = parts.length === 1 ? parts[0] : Buffer.concat(parts, buffered)
    parts = []
    size += buffered
    buffered = 0
    writing = writeAll(handle, chunk)
    writing.catch(() => {}) // awaited by the next flush or close
  }

  return {
    async put (cid, bytes) {
      const length = cid.bytes.byteLength + bytes.byteLength
      const prefix = new Uint8Array(varint.encodingLength(length) + cid.bytes.byteLength)
      varint.encodeTo(length, prefix, 0)
      prefix.set(cid.bytes, prefix.byteLength - cid.bytes.byteLength)
      parts.push(prefix, bytes)
      buffered += prefix.byteLength + bytes.byteLength
      if (buffered >= PACK_WRITE_CHUNK) await flush()
    },
    async close () {
      await flush()
      await writing
      closed = true
      await handle.close()
      return size
    },
    async destroy () {
      if (closed) return
      closed = true
      await writing?.catch(() => {})
      await handle.close().catch(() => {})
    }
  }
}
