import type { CID } from 'multiformats/cid'
import type { CallOptions } from './content-store.js'

/**
 * The secret that owns one log's name. Each backend derives what it needs from it: an ed25519 key
 * (local, twirp, ipns), a Hypercore key pair, or an ENS claim for `label` (`label.eth`).
 */
export interface OwnerKey {
  /** The log's label, e.g. `default` or `alice`; ENS uses it as the name to claim. */
  label: string
  /** 32 random bytes kept in the endpoint's state dir. */
  secret: Uint8Array
}

/** What a name points at: the head page, plus the log's length and publish counter. */
export interface HeadRecord {
  /** CAS id of the newest page. */
  head: CID
  /** Entries in the log = the next sequence number. */
  length: number
  /** Publish counter of this log: grows by one with every publish (also scrubs). */
  revision: number
}

/**
 * A resolved name. Backends that hold bytes return all of HeadRecord; ENS holds only the
 * head's CID in its contenthash, so `length` and `revision` are then read from the head page.
 */
export interface ResolvedHead {
  head: CID
  length?: number
  revision?: number
}

/** Options of a publish: the head it replaces, for compare-and-swap. */
export interface PublishOptions extends CallOptions {
  /** The head this writer published last (compare-and-swap); undefined for a first publish. */
  previous?: CID
}

/** What a backend reports about a publish (gas, blocks, …). */
export interface PublishReceipt {
  /** Backend specifics worth reporting, e.g. `{ gasUsed: 46512 }` on ENS. */
  [key: string]: unknown
}

/** Options of `NameSystem.watch`. */
export interface WatchHeadsOptions extends CallOptions {
  /**
   * Longest time between two looks at the name: the poll interval where the backend cannot push
   * (or its notifications are unavailable), and the re-check that catches a lost notification.
   * Each backend has a default; `Endpoint.watch({ pollMs })` passes its own.
   */
  pollMs?: number
}

/** What a name system can do beyond the contract. */
export interface NsCapabilities {
  /** `watch` delivers new heads as they are published. */
  watch: boolean
  /** resolve returns `length` and `revision` (false on ENS). */
  records: boolean
}

/**
 * A name system (SPEC §1): a fixed name for a mutable value, movable by its owner only.
 * `publish` rejects a non-owner with PERMISSION and a stale update (revision not above the
 * current one, or `previous` not the current head) with CONFLICT; `resolve` of an unknown name
 * fails with NOT_FOUND; a resolved value that is forged or older than one seen before is rejected.
 * @example
 * const name = await ns.nameOf(owner)
 * await ns.publish(name, { head, length: 10, revision: 1 }, owner)
 * const { head } = await ns.resolve(name)
 */
export interface NameSystem {
  readonly backend: string
  /** URI scheme of this backend's addresses (`local`, `ens`, `hypercore`, …). */
  readonly scheme: string
  readonly capabilities: NsCapabilities
  /** The name `owner` controls (derived from the key, or claimed on first use). */
  nameOf (owner: OwnerKey, options?: CallOptions): Promise<string>
  publish (name: string, record: HeadRecord, owner: OwnerKey, options?: PublishOptions): Promise<PublishReceipt>
  resolve (name: string, options?: CallOptions): Promise<ResolvedHead>
  /** Yields each new head as it is published, until `signal` aborts. Only when `capabilities.watch`. */
  watch? (name: string, options: WatchHeadsOptions): AsyncIterable<ResolvedHead>
  close (): Promise<void>
}
