import type { CID } from 'multiformats/cid'
import type { CallOptions, ContentStore } from '../core/content-store.js'
import { fail } from '../core/errors.js'

/** How a lying store misbehaves for one object. */
export type Lie =
  | { kind: 'alter', id: CID }
  | { kind: 'withhold', id: CID }
  | { kind: 'substitute', id: CID, bytes: Uint8Array }

/** A store whose lie can be switched on and off; counts the lies it told. */
export interface LyingStore extends ContentStore {
  lie: Lie | undefined
  told: number
}

/**
 * Wraps a store so that, for the object `lie.id`, it returns altered bytes (one byte flipped),
 * says it does not have it (a withheld page: NOT_FOUND), or returns other bytes (another log's
 * page). The wrapped store's own id check has passed by then: only the reader's checks remain.
 * Everything else, and everything while `lie` is undefined, goes to the real store.
 * @example
 * const store = lyingStore(cas)
 * store.lie = { kind: 'withhold', id: firstPage }
 */
export function lyingStore (inner: ContentStore): LyingStore {
  const store: LyingStore = {
    backend: inner.backend,
    capabilities: inner.capabilities,
    lie: undefined,
    told: 0,
    async put (bytes: Uint8Array, options?: CallOptions) { return await inner.put(bytes, options) },
    async has (id: CID, options?: CallOptions) { return await inner.has(id, options) },
    async get (id: CID, options?: CallOptions) {
      const lie = store.lie
      if (lie === undefined || !lie.id.equals(id)) return await inner.get(id, options)
      store.told++
      switch (lie.kind) {
        case 'withhold':
          throw fail('NOT_FOUND', `${id.toString()} is not here (withheld)`, { backend: inner.backend })
        case 'substitute':
          return lie.bytes
        case 'alter': {
          const bytes = new Uint8Array(await inner.get(id, options))
          bytes[bytes.length >> 1] ^= 0x01
          return bytes
        }
      }
    },
    async close () { await inner.close() }
  }
  if (inner.delete !== undefined) store.delete = async (id, options) => { await inner.delete!(id, options) }
  if (inner.release !== undefined) store.release = async (id, options) => { await inner.release!(id, options) }
  return store
}
