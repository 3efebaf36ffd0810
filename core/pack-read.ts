import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { readCarSections, type CarSections } from './car-sections.js'
import { fail, isRemoteLogError } from './errors.js'
import { MAX_OBJECT_BYTES } from './ids.js'

/** A pack file opened for one streaming pass. */
export interface PackStream {
  roots: CID[]
  /** The file's size in bytes. */
  size: number
  /** The blocks in file order; decoding problems surface as MALFORMED. Iterate once. */
  blocks: AsyncGenerator<{ cid: CID, bytes: Uint8Array }>
  /** Closes the file without reading on (iterating `blocks` to the end closes it too). */
  close: () => void
}

function malformed (file: string, cause: unknown): Error {
  if (isRemoteLogError(cause)) return cause
  const message = (cause as Error)?.message ?? String(cause)
  const truncated = /unexpected end of data/i.test(message)
  return fail('MALFORMED', truncated ? `${file} is truncated: it ends inside a block` : `${file} is not a readable CARv1 pack (${message})`, { cause })
}

/**
 * Opens a CAR file for one pass, reading it in chunks (memory stays at a chunk plus a block).
 * NOT_FOUND when the file does not exist; MALFORMED when it is not a CAR or ends mid-block;
 * TOO_LARGE, before reading it, for a block whose section declares more than the 1 MiB limit.
 * @example
 * const pack = await openPack('backup.car')
 * for await (const { cid, bytes } of pack.blocks) …
 */
export async function openPack (file: string, signal?: AbortSignal): Promise<PackStream> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (cause) {
    throw fail((cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT', `cannot read pack ${file}`, { cause })
  }
  const stream = createReadStream(file, { highWaterMark: 1 << 20, signal })
  let car: CarSections
  try {
    car = await readCarSections(stream, MAX_OBJECT_BYTES)
  } catch (cause) {
    stream.destroy()
    throw malformed(file, cause)
  }
  async function * blocks (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
    try {
      yield * car.blocks
    } catch (cause) {
      if (signal?.aborted === true) throw fail('ABORTED', `reading ${file} was aborted`, { cause })
      throw malformed(file, cause)
    } finally {
      stream.destroy()
    }
  }
  return { roots: car.roots, size, blocks: blocks(), close: () => { stream.destroy() } }
}
