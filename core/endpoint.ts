import { join } from 'node:path'
import type { ContentStore } from './content-store.js'
import { countingCas, countingNs, emptyCounts } from './counting.js'
import { formatAddress, parseAddress } from './address.js'
import { checkAlias, defaultAlias, FollowStore, type FollowRecord } from './follow-store.js'
import type { Durability } from './durable-file.js'
import { Keystore, checkLogName } from './keystore.js'
import type { LogOptions } from './log-options.js'
import type { NameSystem, OwnerKey } from './name-system.js'
import { LogReader, type Message } from './reader.js'
import { fileWriterStorage, type WriterStorage } from './writer-storage.js'
import { LogWriter, type AppendInput, type PublishResult } from './writer.js'
import type { StoredEntry } from './entry-file.js'
import { fail, isRemoteLogError } from './errors.js'
import { crashPoint } from './crash-point.js'
import type { CID } from 'multiformats/cid'
import { toCid } from './ids.js'
// Packs and scrub load when used: a command that appends or syncs starts without them.
import type { ExportPackOptions, ExportSummary } from './pack-export.js'
import type { ImportPackOptions, ImportSummary } from './pack-import.js'
import type { RestoreResult } from './pack-restore.js'
import type { ScrubResult } from './scrub.js'
import { liveFollow, type LiveSource, type WatchMessagesOptions, type WatchOptions } from './live-follow.js'
import { syncEach, type SyncResult } from './sync-each.js'

/** What an endpoint is made of: its state dir, its backends and how its logs are paged and kept. */
export interface EndpointOptions {
  /** The state dir: keys, own logs' journals, followed logs' cursors and messages. */
  dir: string
  cas: ContentStore
  /** The name system the endpoint's own logs are published in. */
  ns: NameSystem
  /** The name system for an address scheme (for following logs of other backends). */
  nsFor?: (scheme: string) => Promise<NameSystem>
  log?: Partial<LogOptions>
  /** Label of the default log's name where names are claimed (ENS: `<name>.eth`). */
  name?: string
  /** Closes what `nsFor` opened; called by `close`. */
  onClose?: () => Promise<void>
  /**
   * `fsync` (default): an append is on disk, surviving a power cut, when it returns; `process`:
   * it survives a killed process only, and appends are faster.
   */
  durability?: Durability
}

/** What a sync of one followed log did. */
export interface SyncReport {
  alias: string
  address: string
  /** False when nothing is published at the address yet (the name does not resolve). */
  published: boolean
  /** New messages delivered by this sync. */
  delivered: number
  /** Messages of the log delivered so far. */
  length: number
  /** Sequence numbers the writer scrubbed whose copies were dropped by this sync. */
  scrubbed: number[]
  nsRequests: number
  casRequests: number
  bytes: number
  ms: number
}

/** Options of one sync: abort it, and watch it progress. */
export interface SyncOptions {
  signal?: AbortSignal
  /** Called as messages arrive, with the count so far and the log's length when known. */
  onProgress?: (delivered: number, total?: number) => void
  /**
   * Called when the writer scrubbed messages this endpoint had: their payloads are already
   * dropped from its store when this runs (the messages remain as tombstones).
   */
  onScrub?: (event: ScrubEvent) => void
}

/** Messages of a followed log that its writer scrubbed, whose local copies a sync dropped. */
export interface ScrubEvent {
  alias: string
  address: string
  seqs: number[]
}

/** One own log's state as plain data (`Endpoint.logStatus`), read afresh from the state dir. */
export interface LogStatus {
  log: string
  /** The address readers follow, e.g. `local:b…`. */
  address: string
  /** Entries made public by the last acknowledged publish. */
  length: number
  revision: number
  /** The head page of the last acknowledged publish; undefined before the first. */
  head?: CID
  /** Appends journaled but not yet published. */
  pending: number
  /** Sequence numbers scrubbed so far. */
  scrubbed: number[]
}

const DEFAULT_LOG = 'default'
const FLUSH_EVERY = 512

/**
 * An endpoint (SPEC §1, §7): writes one or more named logs, follows many, each with its own cursor,
 * all state in one folder.
 * @example
 * const alice = await Endpoint.open({ dir, cas, ns })
 * await alice.append(['hello'])
 * await alice.publish()
 * console.log(await alice.address()) // local:b…
 */
export class Endpoint {
  private readonly keys: Keystore
  private readonly follows: FollowStore
  private readonly writers = new Map<string, Promise<LogWriter>>()
  private readonly storages = new Map<string, WriterStorage>()

  private constructor (readonly options: EndpointOptions) {
    this.keys = new Keystore(options.dir)
    this.follows = new FollowStore(join(options.dir, 'follows'), join(options.dir, 'locks'), options.durability)
  }

  static async open (options: EndpointOptions): Promise<Endpoint> {
    return new Endpoint(options)
  }

  get cas (): ContentStore { return this.options.cas }
  get ns (): NameSystem { return this.options.ns }

  /** The owner key of one of this endpoint's logs; NOT_FOUND for a log with no key here unless `create`. */
  async owner (log = DEFAULT_LOG, options: { create?: boolean } = {}): Promise<OwnerKey> {
    const label = log === DEFAULT_LOG ? (this.options.name ?? DEFAULT_LOG) : (this.options.name !== undefined ? `${this.options.name}-${log}` : log)
    return { label, secret: await this.keys.secret(log, { create: options.create === true || log === DEFAULT_LOG }) }
  }

  /**
   * The writer of one of this endpoint's logs. A log other than the default one exists once it
   * has a key: `create` makes one (as `append` does); otherwise an unknown log is NOT_FOUND.
   */
  async writer (log = DEFAULT_LOG, options: { create?: boolean } = {}): Promise<LogWriter> {
    checkLogName(log)
    let writer = this.writers.get(log)
    if (writer === undefined) {
      writer = (async () => await LogWriter.open({
        cas: this.options.cas,
        ns: this.options.ns,
        owner: await this.owner(log, options),
        storage: this.writerStorage(log),
        log: this.options.log
      }))()
      this.writers.set(log, writer)
      writer.catch(() => this.writers.delete(log))
    }
    return await writer
  }

  /** One per log, shared by its writer and status reads: it keeps the log's lock between sections. */
  private writerStorage (log: string): WriterStorage {
    let storage = this.storages.get(log)
    if (storage === undefined) {
      storage = fileWriterStorage(join(this.options.dir, 'logs', checkLogName(log)), {
        lockPath: join(this.options.dir, 'locks', `log-${log}.lock`),
        durability: this.options.durability
      })
      this.storages.set(log, storage)
    }
    return storage
  }

  /** Appends messages to a log's journal (creating the log); returns their sequence numbers. Call `publish` after. */
  async append (inputs: readonly AppendInput[], options: { log?: string } = {}): Promise<number[]> {
    return await (await this.writer(options.log, { create: true })).append(inputs)
  }

  /** Publishes a log's pending appends. Undefined when nothing was pending. */
  async publish (options: { log?: string } = {}): Promise<PublishResult | undefined> {
    return await (await this.writer(options.log)).publish()
  }

  /**
   * After a CONFLICT (another device with this log's key published): publishes this state dir's
   * unpublished messages after the log's current head, renumbered (see `LogWriter.rebase`).
   */
  async rebase (options: { log?: string } = {}): Promise<{ renumbered: number, from?: number, result?: PublishResult }> {
    return await (await this.writer(options.log)).rebase()
  }

  /** The address readers follow, e.g. `local:b…`. */
  async address (log = DEFAULT_LOG): Promise<string> {
    return formatAddress({ scheme: this.options.ns.scheme, name: (await this.writer(log)).name })
  }

  /** Own logs (those with a key). */
  async logs (): Promise<string[]> {
    return await this.keys.logs()
  }

  /**
   * An own log's length, revision, head, pending appends and scrubbed sequences, as plain data read
   * afresh under the log's lock (another process may have appended or published since this
   * endpoint opened it). NOT_FOUND for a log with no key here.
   * @example const { length, pending } = await alice.logStatus('default')
   */
  async logStatus (log = DEFAULT_LOG): Promise<LogStatus> {
    const writer = await this.writer(log)
    const storage = this.writerStorage(log)
    const { state, journal } = await storage.exclusive(async () => ({ state: await storage.loadState(), journal: await storage.readJournal() }))
    const length = state?.length ?? 0
    return {
      log,
      address: formatAddress({ scheme: this.options.ns.scheme, name: writer.name }),
      length,
      revision: state?.revision ?? 0,
      head: state?.head === undefined ? undefined : toCid(state.head),
      pending: journal.filter(e => e.seq >= length).length,
      scrubbed: [...(state?.scrubbed ?? [])]
    }
  }

  /** Starts following a log; the alias defaults to the address's name. */
  async follow (address: string, alias?: string): Promise<FollowRecord> {
    const parsed = parseAddress(address)
    await this.nsFor(parsed.scheme)
    const name = checkAlias(alias ?? defaultAlias(parsed.name))
    return await this.follows.exclusive(name, async () => {
      if (await this.follows.has(name)) {
        const existing = await this.follows.get(name)
        if (existing.address !== formatAddress(parsed)) throw fail('CONFLICT', `alias "${name}" already follows ${existing.address}`)
        return existing
      }
      const record: FollowRecord = { alias: name, address: formatAddress(parsed), cursor: { length: 0 }, fileBytes: 0 }
      await this.follows.save(record)
      return record
    })
  }

  async unfollow (alias: string): Promise<void> {
    await this.follows.exclusive(alias, async () => { await this.follows.remove(alias) })
  }

  async following (): Promise<FollowRecord[]> {
    return await this.follows.list()
  }

  /**
   * Fetches what is new in a followed log and stores it; resumes where a killed sync stopped.
   * When the head did not change this costs one NS request and no CAS request.
   */
  async sync (alias: string, options: SyncOptions = {}): Promise<SyncReport> {
    return await this.follows.exclusive(alias, async () => await this.syncLocked(alias, options))
  }

  private async syncLocked (alias: string, options: SyncOptions): Promise<SyncReport> {
    const started = performance.now()
    let record = await this.follows.reconcile(await this.follows.get(alias))
    const { scheme, name } = parseAddress(record.address)
    const counts = emptyCounts()
    const deliveredBefore = record.cursor.length
    // The progress total: the log's length from the name's record, or from the head page (ENS).
    const cas = countingCas(this.options.cas, counts)
    const ns = countingNs(await this.nsFor(scheme), counts)
    let head: CID | undefined
    let total: number | undefined
    const learn = (length: number | undefined): void => {
      if (total !== undefined || length === undefined) return
      total = Math.max(0, length - deliveredBefore)
      if (total > 0) options.onProgress?.(0, total)
    }
    const reader = new LogReader({
      cas: options.onProgress === undefined ? cas : Object.assign(Object.create(cas) as ContentStore, {
        async get (...args: Parameters<ContentStore['get']>) {
          const bytes = await cas.get(...args)
          if (total === undefined && head?.equals(args[0]) === true) learn(await import('./page-header.js').then(p => p.decodePageHeader(bytes).length).catch(() => undefined))
          return bytes
        }
      }),
      ns: options.onProgress === undefined ? ns : Object.assign(Object.create(ns) as NameSystem, {
        async resolve (...args: Parameters<NameSystem['resolve']>) {
          const resolved = await ns.resolve(...args)
          head = resolved.head
          learn(resolved.length)
          return resolved
        }
      }),
      name,
      concurrency: this.options.log?.concurrency
    })
    const file = this.follows.messages(alias)
    const sync = reader.sync(record.cursor, options.signal)
    const scrubbedNow: number[] = []
    let batch: StoredEntry[] = []
    let delivered = 0
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      const starts = await file.append(batch)
      crashPoint('after-messages-append')
      await this.follows.index(alias).add(batch[0].seq, starts)
      const length = batch.at(-1)!.seq + 1
      record = { ...record, fileBytes: await file.size(), cursor: { length, scrubbed: record.cursor.scrubbed } }
      await this.follows.save(record)
      crashPoint('after-sync-flush')
      batch = []
    }
    try {
      for await (const m of sync.messages) {
        if (m.tombstone && m.seq < deliveredBefore) {
          scrubbedNow.push(m.seq)
          continue
        }
        batch.push(toStored(m))
        delivered++
        if (batch.length >= FLUSH_EVERY) await flush()
        options.onProgress?.(delivered, total)
      }
      await flush()
    } catch (e) {
      // Nothing published at that name yet: not an error for a follower, just nothing to fetch.
      if (!isRemoteLogError(e, 'NOT_FOUND') || counts.casGets > 0) throw e
      return { alias, address: record.address, published: false, delivered: 0, length: record.cursor.length, scrubbed: [], nsRequests: counts.nsResolves, casRequests: 0, bytes: 0, ms: performance.now() - started }
    }
    const outcome = await sync.done
    if (scrubbedNow.length > 0) {
      record = await this.follows.dropPayloads(record, scrubbedNow)
      options.onScrub?.({ alias, address: record.address, seqs: [...scrubbedNow] })
    }
    record = { ...record, cursor: outcome.cursor, lastSync: new Date().toISOString() }
    await this.follows.save(record)
    return {
      alias,
      address: record.address,
      published: true,
      delivered,
      length: record.cursor.length,
      scrubbed: scrubbedNow,
      nsRequests: counts.nsResolves,
      casRequests: counts.casGets,
      bytes: counts.bytesIn,
      ms: performance.now() - started
    }
  }

  /**
   * Syncs every followed log, one after another. A log that fails does not stop the others: its
   * entry carries `error: { code, message }` (see `syncEach` in core/sync-each.ts). Check it.
   * @example for (const r of await bob.syncAll()) if (r.error !== undefined) console.error(r.alias, r.error.code)
   */
  async syncAll (options: SyncOptions = {}): Promise<SyncResult[]> {
    return await syncEach(await this.follows.list(), async f => await this.sync(f.alias, options), options.signal)
  }

  /**
   * Follows a log live: syncs now, then again each time its name system reports a new head (pushed
   * where the backend can: file-system events, the service's long-poll, new blocks, Hypercore
   * appends), yielding each sync's report until `signal` aborts. `pollMs` is handed to the name
   * system's watch: how often it looks where it cannot push, and its re-check for a lost
   * notification. Survives outages: a transient error (UNAVAILABLE, TIMEOUT) is reported through
   * `onRetry`, and after a capped exponential backoff the follower syncs again from its stored cursor
   * and restarts the name system's watch; other errors end it (see `liveFollow` in core/live-follow.ts).
   * @example
   * for await (const r of bob.watch('alice', { signal, onRetry: e => console.error(`retrying in ${e.delayMs} ms`) })) console.log(r.delivered)
   */
  async * watch (alias: string, options: WatchOptions): AsyncGenerator<SyncReport> {
    yield * liveFollow(await this.liveSource(alias, options), options)
  }

  /**
   * What `liveFollow` needs for a followed log. With `wanted` (the next sequence a consumer of
   * messages still needs), a store already past it — another process synced — counts as not synced
   * yet, so the follower syncs (one NS request) and its report covers those messages.
   */
  private async liveSource (alias: string, options: WatchOptions, wanted?: () => number): Promise<LiveSource> {
    const record = await this.follows.get(alias)
    const { scheme, name } = parseAddress(record.address)
    const ns = await this.nsFor(scheme)
    const watch = ns.watch?.bind(ns)
    return {
      alias,
      sync: async () => await this.sync(alias, options),
      heads: watch === undefined ? undefined : signal => watch(name, { signal, pollMs: options.pollMs }),
      syncedHead: async () => {
        const { cursor } = await this.follows.get(alias)
        return wanted !== undefined && cursor.length > wanted() ? undefined : cursor.head
      }
    }
  }

  /**
   * Follows a log live like `watch`, and yields the messages themselves: each one once, in sequence
   * order, from `options.from` on (default: the follower's stored length when the watch starts, so
   * only what arrives from then on; `0` for the whole log). Messages already stored at or after
   * `from` come first, before any network request; then, after each sync (its own, or one another
   * process ran on this state dir), the new messages are read from the follower's store, seeking
   * through its index. Retries and outages are those of `watch` (`onRetry`, `backoff`): a sync that
   * failed half-way is resumed from the stored cursor, and nothing is skipped or yielded twice. A
   * consumer that restarts resumes with `from: lastHandled + 1`. A message the writer scrubbed before
   * it was yielded comes as a tombstone; for one yielded earlier, `onScrub` reports the scrub. Ends
   * without an error when `signal` aborts or the consumer stops iterating.
   * @example
   * for await (const m of bob.watchMessages('alice', { signal, from: 0 })) console.log(m.seq, new TextDecoder().decode(m.payload))
   */
  async * watchMessages (alias: string, options: WatchMessagesOptions): AsyncGenerator<Message, void, undefined> {
    const { from, ...watchOptions } = options
    if (from !== undefined && !(Number.isSafeInteger(from) && from >= 0)) throw fail('INVALID_INPUT', `from must be a sequence number (an integer ≥ 0), not ${String(from)}`)
    const stored = (await this.follows.get(alias)).cursor.length
    let next = from ?? stored
    const { signal } = options
    const follows = this.follows
    // Yields the stored messages next … length - 1 and moves `next` past each.
    async function * drain (length: number): AsyncGenerator<Message, void, undefined> {
      if (length <= next) return
      for await (const entry of follows.read(alias, next)) {
        if (signal.aborted || entry.seq >= length) return
        next = entry.seq + 1
        yield toMessage(entry)
        if (next >= length) return
      }
    }
    yield * drain(stored)
    if (signal.aborted) return
    // The report's length, not its `delivered`: a sync that failed after storing part of what it
    // fetched, or a sync by another process, stored messages that no report delivered.
    for await (const report of liveFollow(await this.liveSource(alias, watchOptions, () => next), watchOptions)) {
      yield * drain(report.length)
      if (signal.aborted) return
    }
  }

  /**
   * A followed log's delivered messages in sequence order, from `from` on. For one of the
   * endpoint's own logs (`log:<name>` or its name when no alias has it), its published messages.
   */
  async * read (aliasOrLog: string, options: { from?: number } = {}): AsyncGenerator<Message> {
    const from = options.from ?? 0
    const own = aliasOrLog.startsWith('log:') ? aliasOrLog.slice(4) : (!(await this.follows.has(aliasOrLog)) && (await this.logs()).includes(aliasOrLog) ? aliasOrLog : undefined)
    if (own !== undefined) {
      const writer = await this.writer(own)
      if (writer.head === undefined) return
      const reader = new LogReader({ cas: this.options.cas, ns: this.options.ns, name: writer.name })
      // The reader treats `from` as already delivered and first re-announces earlier scrubs: skip those.
      for await (const m of reader.sync({ length: from }).messages) if (m.seq >= from) yield m
      return
    }
    await this.follows.get(aliasOrLog)
    for await (const entry of this.follows.read(aliasOrLog, from)) yield toMessage(entry)
  }

  /**
   * Removes entries from one of this endpoint's logs (see `scrub` in core/scrub.ts): tombstones,
   * rewritten pages, a republished head, payloads deleted where the CAS can. Idempotent; a scrub
   * a crash interrupted is finished by the next call.
   * @example const { scrubbed, deleted } = await alice.scrub([3, 17])
   */
  async scrub (seqs: number[], options: { log?: string, signal?: AbortSignal } = {}): Promise<ScrubResult> {
    const log = options.log ?? DEFAULT_LOG
    const writer = await this.writer(log)
    const [{ scrub }, { fileScrubJournal }] = await Promise.all([import('./scrub.js'), import('./scrub-journal.js')])
    return await scrub(writer, seqs, { journal: fileScrubJournal(join(this.options.dir, 'logs', log, 'scrub.json')), signal: options.signal })
  }

  /**
   * Writes a log as a CAR pack file (see `exportPack` in core/pack-export.ts). `source` is an own
   * log (`log:NAME`, or its name), a followed alias, or any address this endpoint can resolve.
   * @example await alice.exportPack('log:default', 'backup.car', { since: 0 })
   */
  async exportPack (source: string, out: string, options: Omit<ExportPackOptions, 'cas' | 'head' | 'address'> = {}): Promise<ExportSummary> {
    const { address, head } = await this.locate(source)
    const { exportPack } = await import('./pack-export.js')
    return await exportPack(out, { ...options, cas: this.options.cas, head, address })
  }

  /**
   * Loads a pack into this endpoint's CAS (see `importPack` in core/pack-import.ts). With `restore`,
   * the pack's head becomes the head of that own log, so this device continues the same log: the
   * log's key must be here already (copied keys.json) or be given as `key` (see `restoreHead`).
   * @example
   * await phone.importPack('backup.car', { restore: 'default', key: secretFromOldDevice })
   * await phone.append(['continues the same log']); await phone.publish()
   */
  async importPack (file: string, options: ImportPackOptions & { restore?: string, key?: Uint8Array } = {}): Promise<ImportSummary & { restored?: RestoreResult }> {
    const log = options.restore
    if (log !== undefined) {
      checkLogName(log)
      if (this.writers.has(log)) throw fail('CONFLICT', `log "${log}" is already open in this endpoint; restore before using it`)
      if (options.key !== undefined) await this.keys.adopt(log, options.key, { replace: await this.unwritten(log) })
      else if (!(await this.keys.logs()).includes(log)) throw fail('INVALID_INPUT', `no key for log "${log}" here: copy keys.json from the old device, or give its key`)
    }
    const [{ importPack }, { restoreHead }] = await Promise.all([import('./pack-import.js'), import('./pack-restore.js')])
    const summary = await importPack(file, this.options.cas, options)
    if (log === undefined) return summary
    const restored = await restoreHead(summary, {
      cas: this.options.cas,
      ns: this.options.ns,
      owner: await this.owner(log),
      storage: this.writerStorage(log),
      log: this.options.log,
      signal: options.signal
    })
    return { ...summary, restored }
  }

  /** True when an own log has never published nor journaled anything (its key may be replaced). */
  private async unwritten (log: string): Promise<boolean> {
    const storage = this.writerStorage(log)
    const state = await storage.loadState()
    return state?.head === undefined && state?.intent === undefined && (await storage.readJournal()).length === 0
  }

  /** The address and current head of an own log, a followed alias or an address. */
  private async locate (source: string): Promise<{ address: string, head: CID }> {
    let own = source.startsWith('log:') ? source.slice(4) : undefined
    let address = source
    if (own === undefined && !source.includes(':')) {
      if (await this.follows.has(source)) address = (await this.follows.get(source)).address
      else if ((await this.logs()).includes(source)) own = source
      else throw fail('NOT_FOUND', `"${source}" is neither a followed alias nor an own log (or give an address)`)
    }
    if (own !== undefined) {
      const writer = await this.writer(own)
      if (writer.head === undefined) throw fail('NOT_FOUND', `log "${own}" has nothing published yet`)
      return { address: await this.address(own), head: writer.head }
    }
    const parsed = parseAddress(address)
    const resolved = await (await this.nsFor(parsed.scheme)).resolve(parsed.name)
    return { address: formatAddress(parsed), head: resolved.head }
  }

  private async nsFor (scheme: string): Promise<NameSystem> {
    if (scheme === this.options.ns.scheme) return this.options.ns
    if (this.options.nsFor === undefined) throw fail('INVALID_CONFIG', `no name system configured for "${scheme}:" addresses`)
    return await this.options.nsFor(scheme)
  }

  async close (): Promise<void> {
    await Promise.allSettled([...this.writers.values()])
    await Promise.allSettled([...this.storages.values()].map(async storage => { await storage.close?.() }))
    await this.options.onClose?.()
    await Promise.allSettled([this.options.cas.close(), this.options.ns.close()])
  }
}

function toStored (m: Message): StoredEntry {
  const entry: StoredEntry = { seq: m.seq, localHash: m.localHash }
  if (m.tombstone) entry.tombstone = true
  else entry.payload = m.payload
  if (m.groupId !== undefined) { entry.groupId = m.groupId; entry.timestamp = m.timestamp }
  return entry
}

function toMessage (entry: StoredEntry): Message {
  return { seq: entry.seq, localHash: entry.localHash, payload: entry.payload, tombstone: entry.tombstone === true, groupId: entry.groupId, timestamp: entry.timestamp }
}
