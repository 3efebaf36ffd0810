import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import type { CID } from 'multiformats/cid'
import type { ContentStore } from '../../core/content-store.js'
import { checkAborted, fail } from '../../core/errors.js'
import { checkSize, cidOf, verifyBytes } from '../../core/ids.js'
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
  const store = new FsBlockstore(options.path)
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
      await store.put(id, bytes, callOptions)
      return id
    },
    async get (id: CID, callOptions) {
      checkAborted(callOptions?.signal, 'local')
      const chunks: Uint8Array[] = []
      try {
        for await (const chunk of store.get(id, callOptions)) chunks.push(chunk)
      } catch (e) {
        if (isNotFound(e)) throw fail('NOT_FOUND', `no object ${id.toString()}`, { backend: 'local' })
        throw fail('UNAVAILABLE', `cannot read ${id.toString()}`, { backend: 'local', cause: e })
      }
      return verifyBytes(id, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), 'local')
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
