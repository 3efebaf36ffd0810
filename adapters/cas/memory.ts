import type { CID } from 'multiformats/cid'
import type { ContentStore } from '../../core/content-store.js'
import { checkAborted, fail } from '../../core/errors.js'
import { checkSize, cidOf, verifyBytes } from '../../core/ids.js'
import { memoryLogHeads } from './log-heads.js'

/** The memory CAS, with a hook the conformance suite uses to simulate a corrupt store. */
export interface MemoryContentStore extends ContentStore {
  /** Replaces the stored bytes of `id` without changing the id (for integrity tests). */
  tamper (id: CID, bytes: Uint8Array): void
  /** Number of objects held. */
  readonly size: number
}

/**
 * In-memory CAS: the reference implementation. Same ids, size limit and integrity checks as every
 * other backend.
 * @example const cas = memoryCas(); const id = await cas.put(bytes)
 */
export function memoryCas (): MemoryContentStore {
  const blocks = new Map<string, Uint8Array>()
  return {
    backend: 'memory',
    capabilities: { delete: true },
    get size () { return blocks.size },
    async put (bytes, options) {
      checkAborted(options?.signal, 'memory')
      checkSize(bytes, 'memory')
      const id = cidOf(bytes)
      blocks.set(id.toString(), bytes.slice())
      return id
    },
    async get (id, options) {
      checkAborted(options?.signal, 'memory')
      const bytes = blocks.get(id.toString())
      if (bytes === undefined) throw fail('NOT_FOUND', `no object ${id.toString()}`, { backend: 'memory' })
      return verifyBytes(id, bytes, 'memory')
    },
    async has (id, options) {
      checkAborted(options?.signal, 'memory')
      return blocks.has(id.toString())
    },
    async delete (id) { blocks.delete(id.toString()) },
    heads: memoryLogHeads(),
    tamper (id, bytes) { blocks.set(id.toString(), bytes) },
    async close () {}
  }
}
