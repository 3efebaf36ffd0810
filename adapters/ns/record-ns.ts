import { setTimeout as sleep } from 'node:timers/promises'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { decodePointer, encodePointer } from '../../core/head-pointer.js'
import type { CallOptions } from '../../core/content-store.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishOptions, ResolvedHead, WatchHeadsOptions } from '../../core/name-system.js'
import { keyPairFromSecret, nameOfPublicKey, openRecord, signRecord } from '../../core/signed-record.js'
import { headKey, pushWatch, type Disarm } from './head-watch.js'

/** What a long-polling storage answers (see `RecordStorage.readNewer`). */
export interface NewerRecord {
  /** The stored record; undefined when none is stored yet. */
  record?: Uint8Array
  /** The longest the remote end would have waited (0: it declined); undefined when it cannot long-poll. */
  waitMs?: number
}

/** Where signed records live: a map, a folder, a remote service. */
export interface RecordStorage {
  read (name: string, options?: CallOptions): Promise<Uint8Array | undefined>
  /** Stores a record already checked by `acceptRecord` (a remote storage's server checks again). */
  write (name: string, record: Uint8Array, options?: CallOptions): Promise<void>
  /**
   * Runs a read-check-write of one name with every other writer of this storage kept out (a
   * mutex in memory, a file lock on disk). A remote storage leaves it out: its server checks.
   */
  exclusive? <T>(name: string, section: () => Promise<T>): Promise<T>
  /**
   * Push, for `watch`: calls `onChange` after each change of `name`'s record by any writer (other
   * processes included) — possibly spuriously, possibly coalescing several — and `onBroken` once if
   * the notifications stop. Resolves once armed with the function that stops them; throws where
   * there are none (then `watch` polls). Writes through this name system are announced anyway.
   */
  subscribe? (name: string, onChange: () => void, onBroken: () => void): Promise<Disarm>
  /**
   * Long-poll, for `watch`: the record once its sequence is above `after` (without `after`: once
   * one exists), or whatever is stored after `waitMs`. Preferred over `subscribe` when present.
   */
  readNewer? (name: string, after: number | undefined, options: CallOptions & { waitMs: number }): Promise<NewerRecord>
  close? (): Promise<void>
}

/** A signed-record name system: its backend name, scheme and record storage. */
export interface RecordNsOptions {
  backend: string
  scheme: string
  storage: RecordStorage
  /**
   * `watch`'s poll interval where the storage cannot push, and its re-check in case a notification
   * was lost. Default 100 ms.
   */
  pollMs?: number
}

/** A name system of signed records, with the checks a record store enforces on every write. */
export interface RecordNameSystem extends NameSystem {
  /** Verifies a record (signature, key, growing sequence, pointer value) and stores it. */
  acceptRecord (name: string, record: Uint8Array, options?: CallOptions): Promise<void>
  /** The stored record bytes, as a service hands them out. */
  readRecord (name: string, options?: CallOptions): Promise<Uint8Array>
  /**
   * Calls `listener` whenever `name`'s record may have changed: at once after a write through this
   * name system, and after other writers' where the storage notifies (local: file-system events).
   * Resolves with the function that stops it. A service's long-poll waits on it.
   */
  changes (name: string, listener: () => void): Promise<Disarm>
}

/** How long one long-poll read may be held (the server caps it further). */
const LONG_POLL_MS = 25_000

/**
 * Name system of ed25519-signed records, modelled on IPNS: the name is the public key, the record
 * sequence is the log's revision and only grows. Forged, foreign, replayed and rolled-back records
 * are rejected when stored and again when resolved. Shared by the memory, local and twirp backends.
 */
export function recordNs (options: RecordNsOptions): RecordNameSystem {
  const { backend, scheme, storage } = options
  const highestSeen = new Map<string, number>()
  // The record this client last wrote or checked, per name: equal bytes need no second signature check.
  const checked = new Map<string, { bytes: Uint8Array, sequence: number, head: ResolvedHead }>()
  // In-process listeners per name: told at once of every write through this name system.
  const listeners = new Map<string, Set<() => void>>()

  function listen (name: string, listener: () => void): Disarm {
    let set = listeners.get(name)
    if (set === undefined) listeners.set(name, set = new Set())
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && listeners.get(name) === set) listeners.delete(name)
    }
  }

  function announce (name: string): void {
    for (const listener of [...listeners.get(name) ?? []]) listener()
  }

  async function readRecord (name: string, callOptions?: CallOptions): Promise<Uint8Array> {
    const bytes = await storage.read(name, callOptions)
    if (bytes === undefined) throw fail('NOT_FOUND', `no record for ${scheme}:${name}`, { backend })
    return bytes
  }

  async function current (name: string, callOptions?: CallOptions): Promise<{ sequence: number, head: ResolvedHead } | undefined> {
    const bytes = await storage.read(name, callOptions)
    if (bytes === undefined) return undefined
    const known = checked.get(name)
    if (known !== undefined && Buffer.compare(known.bytes, bytes) === 0) return known
    const record = openRecord(name, bytes, backend)
    const opened = { bytes, sequence: record.sequence, head: decodePointer(record.value) }
    checked.set(name, opened)
    return opened
  }

  function checkNewer (name: string, sequence: number, existing: number | undefined): void {
    if (existing !== undefined && sequence <= existing) {
      throw fail('CONFLICT', `record sequence ${sequence} for ${name} is not above the current ${existing} (replayed or stale)`, { backend })
    }
  }

  const exclusive = async <T>(name: string, section: () => Promise<T>): Promise<T> =>
    storage.exclusive !== undefined ? await storage.exclusive(name, section) : await section()

  async function acceptRecord (name: string, bytes: Uint8Array, callOptions?: CallOptions): Promise<void> {
    const record = openRecord(name, bytes, backend)
    const head = decodePointer(record.value)
    if (head.revision !== record.sequence) throw fail('MALFORMED', `record sequence ${record.sequence} differs from its value's revision ${head.revision}`, { backend })
    await exclusive(name, async () => {
      checkNewer(name, record.sequence, (await current(name, callOptions))?.sequence)
      await storage.write(name, bytes, callOptions)
    })
    announce(name)
  }

  /** Checks a record a reader got (signature, key, no rollback below what this client saw) and opens it. */
  function opened (name: string, bytes: Uint8Array): ResolvedHead {
    const record = openRecord(name, bytes, backend)
    const seen = highestSeen.get(name)
    if (seen !== undefined && record.sequence < seen) {
      throw fail('CONFLICT', `record for ${name} rolled back from sequence ${seen} to ${record.sequence}`, { backend })
    }
    highestSeen.set(name, record.sequence)
    return decodePointer(record.value)
  }

  async function resolve (name: string, callOptions?: CallOptions): Promise<ResolvedHead> {
    return opened(name, await readRecord(name, callOptions))
  }

  /** resolve, with "nothing published yet" as undefined. */
  async function resolveIfAny (name: string, callOptions?: CallOptions): Promise<ResolvedHead | undefined> {
    try {
      return await resolve(name, callOptions)
    } catch (e) {
      if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
      throw e
    }
  }

  /** Watch by long-poll: each read returns once the record is newer than the last one seen (or the wait ends). */
  async function * longPoll (name: string, read: NonNullable<RecordStorage['readNewer']>, pollMs: number, signal?: AbortSignal): AsyncGenerator<ResolvedHead> {
    const aborted = (): boolean => signal?.aborted === true
    let after: number | undefined
    let last: string | undefined
    while (!aborted()) {
      const started = performance.now()
      let answer: NewerRecord
      try {
        answer = await read(name, after, { signal, waitMs: LONG_POLL_MS })
      } catch (e) {
        if (aborted()) return
        throw e
      }
      let fresh = false
      if (answer.record !== undefined) {
        const head = opened(name, answer.record)
        after = head.revision
        if (headKey(head) !== last) {
          last = headKey(head)
          fresh = true
          yield head
        }
      }
      // Nothing new, and sooner than a held request would answer: the other end does not (or not
      // now) hold requests. Poll instead of asking again at once.
      if (!fresh && (answer.waitMs === undefined || performance.now() - started < answer.waitMs / 2)) {
        await sleep(pollMs, undefined, { signal }).catch(() => {})
      }
    }
  }

  return {
    backend,
    scheme,
    capabilities: { watch: true, records: true },
    acceptRecord,
    readRecord,
    resolve,

    async nameOf (owner: OwnerKey): Promise<string> {
      return nameOfPublicKey(keyPairFromSecret(owner.secret).publicKey)
    },

    async publish (name: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions = {}) {
      const keys = keyPairFromSecret(owner.secret)
      if (nameOfPublicKey(keys.publicKey) !== name) throw fail('PERMISSION', `${scheme}:${name} belongs to another key`, { backend })
      const previous = publishOptions.previous
      const expected = previous === undefined ? '(none: a first publish)' : previous.toString()
      await exclusive(name, async () => {
        const existing = await current(name, publishOptions)
        if (existing !== undefined && (previous === undefined || !existing.head.head.equals(previous))) {
          throw fail('CONFLICT', `${scheme}:${name} points at ${existing.head.head.toString()} (revision ${existing.sequence}), not at this writer's last head ${expected}`, { backend })
        }
        checkNewer(name, record.revision, existing?.sequence)
        const signed = signRecord(name, record.revision, encodePointer(record), keys)
        await storage.write(name, signed, publishOptions)
        checked.set(name, { bytes: signed, sequence: record.revision, head: { head: record.head, length: record.length, revision: record.revision } })
      })
      highestSeen.set(name, record.revision)
      announce(name)
      return {}
    },

    async changes (name: string, listener: () => void): Promise<Disarm> {
      const stopLocal = listen(name, listener)
      const stopStorage = await storage.subscribe?.(name, listener, () => {}).catch(() => undefined)
      return () => { stopLocal(); stopStorage?.() }
    },

    /**
     * Yields each new head: pushed where the storage can (a long-poll, or change notifications
     * with a re-check every `pollMs`), else polled every `pollMs`. Every record is checked as
     * `resolve` checks it.
     */
    async * watch (name: string, watchOptions: WatchHeadsOptions): AsyncIterable<ResolvedHead> {
      const signal = watchOptions.signal
      const pollMs = watchOptions.pollMs ?? options.pollMs ?? 100
      if (storage.readNewer !== undefined) {
        yield * longPoll(name, storage.readNewer.bind(storage), pollMs, signal)
        return
      }
      let wake: (() => void) | undefined
      // Writes through this name system wake the watch at once, notifications or not.
      const stopLocal = listen(name, () => wake?.())
      try {
        yield * pushWatch({
          signal,
          pollMs,
          arm: async (fire, broken) => {
            wake = fire
            return await storage.subscribe?.(name, fire, broken)
          },
          check: async () => await resolveIfAny(name, { signal })
        })
      } finally {
        stopLocal()
      }
    },

    async close () {
      await storage.close?.()
    }
  }
}
