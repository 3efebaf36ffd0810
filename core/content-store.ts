import type { CID } from 'multiformats/cid'
import type { OwnerKey } from './name-system.js'

/** Per-call options every backend takes: an abort signal. */
export interface CallOptions {
  signal?: AbortSignal
}

/** Options of `ContentStore.release`. */
export interface ReleaseOptions extends CallOptions {
  /**
   * The key of the log the object belongs to. A store that deletes only on its owner's word (the
   * remote log service) signs the release with it; without it such a store keeps the object.
   */
  owner?: OwnerKey
}

/** What a CAS backend can do beyond put/get/has. Drives the conformance suite's skips. */
export interface CasCapabilities {
  /** `delete` removes (or unpins, so gc frees) an object. */
  delete: boolean
}

/**
 * The newest head page of every log that keeps objects in a store, so that a scrub in one log can see
 * which payloads other logs sharing the store still use (same bytes, same id) before it deletes them.
 * Writers record their head before each publish.
 */
export interface LogHeads {
  /** Records `head` as the newest page of the log with id `logId` (hex), replacing the one before. */
  record (logId: string, head: CID, options?: CallOptions): Promise<void>
  /** Every recorded log head. */
  list (options?: CallOptions): Promise<Array<{ logId: string, head: CID }>>
}

/**
 * A content-addressed store (SPEC §1). Ids are CIDv1 raw sha2-256 and are the same on every backend.
 * Implementations verify on `get` that the bytes hash to the id (INTEGRITY otherwise), reject objects
 * over 1 MiB with TOO_LARGE, and report a missing object with NOT_FOUND.
 * @example
 * const id = await cas.put(new TextEncoder().encode('hi'))
 * const bytes = await cas.get(id)
 */
export interface ContentStore {
  /** Backend name, e.g. `local`, `helia`. */
  readonly backend: string
  readonly capabilities: CasCapabilities
  put (bytes: Uint8Array, options?: CallOptions): Promise<CID>
  get (id: CID, options?: CallOptions): Promise<Uint8Array>
  has (id: CID, options?: CallOptions): Promise<boolean>
  /** Deletes or unpins. Only when `capabilities.delete`. */
  delete? (id: CID, options?: CallOptions): Promise<void>
  /**
   * The caller no longer needs `id` (a head page a publish replaced): the store may drop it now or
   * at its next garbage collection. Stores that serve peers (IPFS) unpin rather than delete, so a
   * peer fetching it right now still gets it. The remote log service deletes only pages of the
   * log of `options.owner` (signed with its key). Without it, `delete` is used where available.
   */
  release? (id: CID, options?: ReleaseOptions): Promise<void>
  /** Present on stores that can delete: the heads of the logs sharing the store (see `LogHeads`). */
  readonly heads?: LogHeads
  close (): Promise<void>
}
