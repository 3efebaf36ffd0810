import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import type { ContentStore } from '../../core/content-store.js'
import { checkAborted, fail } from '../../core/errors.js'
import { checkSize, cidOf, verifyBytes } from '../../core/ids.js'
import { readWholeFile } from '../read-whole-file.js'
import { writeBlockFile } from './block-file.js'
import { fileLogHeads } from './log-heads.js'

/** Where the on-disk store keeps its blocks. */
export interface LocalCasOptions {
  /** Folder of the blockstore, shared by every endpoint that uses the same store. */
  path: string
}

function isNotFound (e: unknown): boolean {
  const err = e as { name?: string, code?: string }
  return err.name === 'NotFoundError' || err.code === 'ERR_NOT_FOUND' || err.code === 'ENOENT'
}

/**
 * On-disk CAS: an IPFS blockstore (`blockstore-fs`, one file per block, written atomically) that
 * several processes can share.
 * @example const cas = await localCas({ path: '/home/me/.local/share/remotelog/store/blocks' })
 */
export async function localCas (options: LocalCasOptions): Promise<ContentStore> {
  // The store's own layout, kept here so that `get` reads a block's file in one call.
  const sharding = new NextToLast()
  const store = new FsBlockstore(options.path, { shardingStrategy: sharding })
  try {
    await store.open()
  } catch (cause) {
    throw fail('UNAVAILABLE', `cannot open the block store at ${options.path}`, { backend: 'local', cause })
  }
  return {
    backend: 'local',
    capabilities: { delete: true },
    async put (bytes, callOptions) {
      checkAborted(callOptions?.signal, 'local')
      checkSize(bytes, 'local')
      const id = cidOf(bytes)
      // blockstore-fs's own put makes the shard folder (mkdir) before every write, through a
      // FileHandle; writeBlockFile writes the same file with fewer round trips to the thread pool.
      const { dir, file } = sharding.encode(id)
      try {
        await writeBlockFile(join(store.path, dir, file), bytes)
      } catch (e) {
        throw fail('UNAVAILABLE', `cannot write ${id.toString()}`, { backend: 'local', cause: e })
      }
      return id
    },
    async get (id: CID, callOptions) {
      checkAborted(callOptions?.signal, 'local')
      // The file blockstore-fs keeps the block in, read whole (readWholeFile: two round trips to
      // the thread pool; blockstore-fs's `get` streams it in 64 KiB chunks, four or more).
      const { dir, file } = sharding.encode(id)
      let bytes: Uint8Array
      try {
        bytes = await readWholeFile(join(store.path, dir, file))
      } catch (e) {
        checkAborted(callOptions?.signal, 'local')
        if (isNotFound(e)) throw fail('NOT_FOUND', `no object ${id.toString()}`, { backend: 'local' })
        throw fail('UNAVAILABLE', `cannot read ${id.toString()}`, { backend: 'local', cause: e })
      }
      return verifyBytes(id, bytes, 'local')
    },
    async has (id, callOptions) {
      checkAborted(callOptions?.signal, 'local')
      return await store.has(id, callOptions)
    },
    async delete (id, callOptions) { await store.delete(id, callOptions) },
    // Inside the block folder (blockstore-fs only looks at its *.data files): shared with the blocks.
    heads: fileLogHeads(join(options.path, 'log-heads')),
    async close () { await store.close() }
  }
}
