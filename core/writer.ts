import { logIdOfOwner } from './log-id.js'
import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { crashPoint } from './crash-point.js'
import type { StoredEntry } from './entry-file.js'
import { fail, isRemoteLogError } from './errors.js'
import { checkSize, MAX_OBJECT_BYTES, sha256, toCid } from './ids.js'
import { logOptions, type LogOptions } from './log-options.js'
import { mapWindow } from './map-window.js'
import { mvdsId } from './mvds.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishReceipt, ResolvedHead } from './name-system.js'
import { decodePage, encodePage, PAGE_FORMAT, type Entry, type Page } from './page.js'
import { frozen, stackPages, type PageLimits, type SpinePage } from './page-spine.js'
import { entryBytes, headerBytes } from './page-size.js'
import { Mutex } from './mutex.js'
import type { WriterState, WriterStorage } from './writer-storage.js'

/** A message to append: bytes, text, or bytes with its id (or MVDS fields to compute it). */
export type AppendInput = Uint8Array | string | {
  payload: Uint8Array | string
  /** The caller's own message id; default sha256(payload), or the MVDS id when groupId is given. */
  localHash?: Uint8Array
  /** MVDS group id (32 bytes) and timestamp: localHash becomes the MVDS message id. */
  groupId?: Uint8Array
  timestamp?: bigint | number
}

/** What a publish made public: the new head record, how many appends, how many pages. */
export interface PublishResult extends HeadRecord {
  /** How many appends this publish made public. */
  published: number
  /** Pages written to the CAS (full pages plus the new head). */
  pages: number
  receipt: PublishReceipt
}

/** A writer's backends, its owner key, where it keeps state and journal, and its page options. */
export interface WriterOptions {
  cas: ContentStore
  ns: NameSystem
  owner: OwnerKey
  storage: WriterStorage
  log?: Partial<LogOptions>
}


const encoder = new TextEncoder()

function toStored (input: AppendInput, seq: number): StoredEntry {
  const item = typeof input === 'string' || input instanceof Uint8Array ? { payload: input } : input
  const payload = typeof item.payload === 'string' ? encoder.encode(item.payload) : item.payload
  checkSize(payload)
  if (item.groupId !== undefined) {
    if (item.groupId.byteLength !== 32) throw fail('INVALID_INPUT', 'an MVDS group id is 32 bytes')
    const timestamp = BigInt(item.timestamp ?? 0)
    return { seq, payload, groupId: item.groupId, timestamp, localHash: item.localHash ?? mvdsId(item.groupId, timestamp, payload) }
  }
  return { seq, payload, localHash: item.localHash ?? sha256(payload) }
}

/**
 * The sending side of one log (SPEC §4, sending flow): appends go to a journal, `publish` puts
 * payloads and pages in the CAS and then moves the name. Nothing counts as published before the
 * NS update succeeded; a crash at any point is finished or redone by the next `publish`.
 * @example
 * const writer = await LogWriter.open({ cas, ns, owner, storage: memoryWriterStorage() })
 * await writer.append(['hello', 'world'])
 * await writer.publish()
 */
export class LogWriter {
  readonly name: string
  readonly options: LogOptions
  private state: WriterState = { revision: 0, length: 0, scrubbed: [] }
  /** The pages from the head back to the first frozen one (see core/page-spine.ts), oldest first. */
  private spine: SpinePage[] = []
  /** The head `spine` was read for. */
  private spineHead: string | undefined
  private pending: StoredEntry[] = []
  private readonly lock = new Mutex()

  private constructor (private readonly deps: WriterOptions, name: string) {
    this.name = name
    this.options = logOptions(deps.log)
  }

  /**
   * Opens a log's writer and loads its state and journal. A publish a crash interrupted is
   * finished by the next `publish`.
   */
  static async open (deps: WriterOptions): Promise<LogWriter> {
    const name = await deps.ns.nameOf(deps.owner)
    const writer = new LogWriter(deps, name)
    await writer.run(async () => {})
    return writer
  }

  /**
   * Runs `section` with this log to itself: in this process (a mutex) and across processes
   * (the storage's lock), on state and journal read afresh — another process may have changed them.
   */
  private async run<T> (section: () => Promise<T>): Promise<T> {
    return await this.lock.run(async () => await this.deps.storage.exclusive(async () => {
      await this.reload()
      return await section()
    }))
  }

  private async reload (): Promise<void> {
    const state = await this.deps.storage.loadState() ?? { revision: 0, length: 0, scrubbed: [] }
    this.state = state
    this.pending = (await this.deps.storage.readJournal()).filter(e => e.seq >= state.length)
  }

  /**
   * The spine new entries join, read when a publish needs it. A head gone from the store means another
   * writer with this key replaced it (writers release replaced pages): CONFLICT, as from the NS.
   */
  private async loadSpine (): Promise<void> {
    const head = this.state.head
    if (head !== this.spineHead) {
      try {
        this.spine = head === undefined ? [] : await loadSpine(this.deps.cas, toCid(head), this.limits())
      } catch (e) {
        if (!isRemoteLogError(e, 'NOT_FOUND')) throw e
        const current = await this.deps.ns.resolve(this.name).catch(() => undefined)
        if (current === undefined || current.head.toString() === head) throw e
        await this.abandonIntent(current, e)
      }
      this.spineHead = head
    }
    if (this.state.logId === undefined) {
      const logId = head === undefined ? undefined : (await loadPage(this.deps.cas, head)).logId
      this.state.logId = logId !== undefined ? Buffer.from(logId).toString('hex') : logIdOfOwner(this.deps.owner)
    }
  }

  private limits (): PageLimits {
    return { entries: this.options.pageEntries, bytes: this.options.pageBytes, header: headerBytes(this.state.scrubbed.length) }
  }

  /** Entries made public by the last acknowledged publish. */
  get length (): number { return this.state.length }
  get revision (): number { return this.state.revision }
  get head (): CID | undefined { return this.state.head === undefined ? undefined : toCid(this.state.head) }
  /** Appends journaled but not yet published. */
  get pendingCount (): number { return this.pending.length }
  get scrubbed (): readonly number[] { return this.state.scrubbed }
  /** The log's id (hex), written on every page: derived from the owner's key (core/log-id.ts), random in logs made before. */
  get logId (): string { return this.state.logId ?? '' }
  /** The writer's storage and backends, for operations built on it (scrub, export). */
  get backends (): WriterOptions { return this.deps }

  /** Journals messages; returns their sequence numbers. Acknowledged once this returns. */
  async append (inputs: readonly AppendInput[]): Promise<number[]> {
    return await this.run(async () => {
      const next = this.state.length + this.pending.length
      const entries = inputs.map((input, i) => toStored(input, next + i))
      await this.deps.storage.appendJournal(entries)
      for (const e of entries) this.pending.push(e)
      return entries.map(e => e.seq)
    })
  }

  /** Publishes every pending append in one NS update. Undefined when there was nothing to publish. */
  async publish (): Promise<PublishResult | undefined> {
    return await this.run(async () => {
      // A publish a crash or an outage interrupted is finished first, and reported if nothing else is pending.
      let finished: PublishResult | undefined
      if (this.state.intent !== undefined) {
        const before = this.state.length
        const receipt = await this.finishIntent()
        finished = { head: toCid(this.state.head!), length: this.state.length, revision: this.state.revision, published: this.state.length - before, pages: 0, receipt }
      }
      if (this.pending.length === 0) return finished
      await this.loadSpine()
      const published = this.pending.length
      const before = this.spine
      const { head, pages, stack, spine, payloads } = await this.writePages(this.pending)
      if (payloads) this.state.payloads = true
      const record = { head, length: this.state.length + published, revision: this.state.revision + 1 }
      const receipt = await this.commit(record, spine)
      const kept = new Set(stack.map(p => p.id!.toString()))
      for (const page of before) if (!kept.has(page.id!.toString())) await this.release(page.id!)
      return { ...record, published, pages, receipt }
    })
  }

  /**
   * Rewrites the log through `rewrite` (used by scrub): the caller hands back the new head, its
   * decoded page and the scrubbed list; this writer records and publishes it like any publish.
   */
  async republish (rewrite: (current: { head?: CID, length: number, revision: number, scrubbed: readonly number[] }) => Promise<{ head: CID, scrubbed: number[] }>): Promise<PublishResult> {
    return await this.run(async () => {
      if (this.state.intent !== undefined) await this.finishIntent()
      if (this.pending.length > 0) throw fail('CONFLICT', 'publish pending appends before rewriting the log')
      const { head, scrubbed } = await rewrite({ head: this.head, length: this.state.length, revision: this.state.revision, scrubbed: this.state.scrubbed })
      const record = { head, length: this.state.length, revision: this.state.revision + 1 }
      const receipt = await this.commit(record, undefined, scrubbed)
      return { ...record, published: 0, pages: 0, receipt }
    })
  }

  /** Records the intent to publish `record` (whose pages are in the CAS), then publishes it. */
  private async commit (record: HeadRecord, spine: SpinePage[] | undefined, scrubbed = this.state.scrubbed): Promise<PublishReceipt> {
    // In memory only once on disk: a failed save leaves this writer as it was.
    const next = { ...this.state, scrubbed, intent: { head: record.head.toString(), length: record.length, revision: record.revision } }
    await this.deps.storage.saveState(next)
    this.state = next
    // A rewrite (scrub) leaves the spine to be read again from its new head.
    this.spine = spine ?? []
    this.spineHead = spine === undefined ? undefined : record.head.toString()
    crashPoint('after-intent')
    return await this.finishIntent()
  }

  /** Moves the name to the intent's head (unless a crashed run already did) and records it. */
  private async finishIntent (): Promise<PublishReceipt> {
    const intent = this.state.intent!
    const record = { head: toCid(intent.head), length: intent.length, revision: intent.revision }
    if (this.state.logId === undefined) {
      const page = await loadPage(this.deps.cas, intent.head) // an intent a restore recorded
      if (page.logId !== undefined) this.state.logId = Buffer.from(page.logId).toString('hex')
    }
    // Before the name moves: a scrub in another log sharing the store must see this log's payloads.
    if (this.state.payloads === true || this.options.mode !== 'inline') if (this.state.logId !== undefined) await this.deps.cas.heads?.record(this.state.logId, record.head)
    let receipt: PublishReceipt = {}
    try {
      receipt = await this.deps.ns.publish(this.name, record, this.deps.owner, { previous: this.head })
    } catch (e) {
      if (!isRemoteLogError(e, 'CONFLICT')) throw e
      const current = await this.deps.ns.resolve(this.name).catch(() => undefined)
      if (current === undefined) throw e
      if (!current.head.equals(record.head)) await this.abandonIntent(current, e)
      receipt = { alreadyPublished: true }
    }
    crashPoint('after-ns')
    const { intent: _done, ...rest } = this.state
    const done = { ...rest, head: intent.head, length: intent.length, revision: intent.revision }
    await this.deps.storage.saveState(done)
    this.state = done
    this.pending = this.pending.filter(e => e.seq >= intent.length)
    await this.deps.storage.dropPublished(intent.length)
    return receipt
  }

  /**
   * Another writer holding this log's key moved the name: the intent's pages build on a head that
   * is no longer current. Drops the intent (its messages stay in the journal) and says how to go on.
   */
  private async abandonIntent (current: ResolvedHead, cause: unknown): Promise<never> {
    const { intent: _dropped, ...rest } = this.state
    await this.deps.storage.saveState(rest)
    this.state = rest
    throw fail('CONFLICT', `another writer with this log's key published revision ${current.revision ?? '?'} (head ${current.head.toString()}) since this state dir's last publish (revision ${this.state.revision}); the ${this.pending.length} unpublished message(s) are safe in the journal: run \`remotelog publish --rebase\` (library: writer.rebase()) to publish them after it`, {
      cause, details: { head: current.head.toString(), revision: current.revision, ownRevision: this.state.revision, pending: this.pending.length }
    })
  }

  /**
   * Recovers from a CONFLICT: takes the log as its name now points (another writer with the same
   * key moved it), renumbers this state dir's unpublished messages to follow it, and publishes
   * them. Refuses a name whose head is not ahead of this state dir's last publish.
   */
  async rebase (): Promise<{ renumbered: number, from?: number, result?: PublishResult }> {
    const renumbered = await this.run(async () => {
      const current = await this.deps.ns.resolve(this.name)
      const page = decodePage(await this.deps.cas.get(current.head), `head page ${current.head.toString()}`)
      const length = current.length ?? page.length ?? (page.firstSeq ?? 0) + page.entries.length
      const revision = current.revision ?? page.revision ?? 0
      if (current.head.toString() === this.state.head && this.state.intent === undefined) return { count: 0, from: length }
      if (revision <= this.state.revision || length < this.state.length) {
        throw fail('CONFLICT', `${this.name} points at revision ${revision} (length ${length}), not ahead of this state dir's revision ${this.state.revision} (length ${this.state.length}): nothing to rebase onto`)
      }
      const moved = this.pending.map((e, i) => ({ ...e, seq: length + i }))
      await this.deps.storage.resetJournal(moved)
      const { intent: _dropped, ...rest } = this.state
      this.state = {
        ...rest,
        head: current.head.toString(),
        length,
        revision,
        scrubbed: page.scrubbed.slice(),
        logId: page.logId !== undefined ? Buffer.from(page.logId).toString('hex') : rest.logId
      }
      await this.deps.storage.saveState(this.state)
      return { count: moved.length, from: length }
    })
    const result = renumbered.count > 0 ? await this.publish() : undefined
    return { renumbered: renumbered.count, from: renumbered.from, result }
  }

  /**
   * Deletes a page a publish replaced (its entries live on in the new pages), so a log published one
   * message at a time does not leave its old pages behind. Pages carry the log's id, so no other log
   * references them. A reader that resolved the old head just before re-resolves when a page is
   * gone. Best effort: a leftover page is only wasted space.
   */
  private async release (id: CID): Promise<void> {
    const { cas } = this.deps
    if (cas.release !== undefined) await cas.release(id, { owner: this.deps.owner }).catch(() => {})
    else if (cas.capabilities.delete && cas.delete !== undefined) await cas.delete(id).catch(() => {})
  }

  /**
   * Puts payloads (pointer/hybrid) and the pages the new entries make or merge (see
   * `stackPages`), oldest first, each pointing at the one before; the newest is the head.
   */
  private async writePages (entries: StoredEntry[]): Promise<{ head: CID, pages: number, stack: SpinePage[], spine: SpinePage[], payloads: boolean }> {
    const { cas } = this.deps
    const o = this.options
    const length = this.state.length + entries.length
    const revision = this.state.revision + 1
    const inlineFrom = o.mode === 'inline' ? 0 : o.mode === 'hybrid' ? length - o.inlineRecent : Infinity
    const maxInline = Math.min(o.pageBytes, MAX_OBJECT_BYTES) - headerBytes(this.state.scrubbed.length) - 200
    const remote = await mapWindow(entries, o.concurrency, async e => {
      const inline = e.seq >= inlineFrom && e.payload!.byteLength <= maxInline
      return o.mode === 'inline' && inline ? undefined : await cas.put(e.payload!)
    })
    const toEntry = (e: StoredEntry, i: number): Entry => {
      const entry: Entry = { seq: e.seq, localHash: e.localHash, remoteHash: remote[i] }
      if (remote[i] === undefined || (e.seq >= inlineFrom && e.payload!.byteLength <= maxInline)) entry.data = e.payload
      if (e.groupId !== undefined) { entry.groupId = e.groupId; entry.timestamp = e.timestamp }
      return entry
    }
    // Hybrid: a page rewritten now keeps only the newest entries inline.
    const stripOld = (list: Entry[]): Entry[] => o.mode !== 'hybrid'
      ? list
      : list.map(e => e.seq < inlineFrom && e.remoteHash !== undefined && e.data !== undefined ? { ...e, data: undefined } : e)

    const logId = Buffer.from(this.state.logId!, 'hex')
    const stack = stackPages(this.spine, entries.map(toEntry), this.limits())
    let pages = 0
    for (let i = 0; i < stack.length; i++) {
      const page = stack[i]
      if (page.id !== undefined) continue
      const isHead = i === stack.length - 1
      page.entries = stripOld(page.entries)
      page.tail = i > 0 ? stack[i - 1].id : page.tail
      page.id = await cas.put(encodePage({
        format: PAGE_FORMAT,
        firstSeq: page.firstSeq,
        entries: page.entries,
        tail: page.tail,
        length: isHead ? length : page.firstSeq + page.entries.length,
        revision,
        scrubbed: isHead ? this.state.scrubbed : [],
        logId
      }))
      pages++
    }
    // The spine keeps pages that may still merge; the head always, being where the next entries go.
    const limits = this.limits()
    let keepFrom = stack.length - 1
    while (keepFrom > 0 && !frozen(stack[keepFrom - 1], limits)) keepFrom--
    crashPoint('after-cas')
    return { head: stack[stack.length - 1].id!, pages, stack, spine: stack.slice(keepFrom), payloads: remote.some(id => id !== undefined) }
  }
}

async function loadPage (cas: ContentStore, id: string): Promise<Page> {
  return decodePage(await cas.get(toCid(id)), `page ${id}`)
}

/** Reads the spine from the head back to the first frozen page (which it leaves out). */
async function loadSpine (cas: ContentStore, head: CID, limits: PageLimits): Promise<SpinePage[]> {
  const spine: SpinePage[] = []
  let id: CID | undefined = head
  while (id !== undefined && spine.length < 64) {
    const page = await loadPage(cas, id.toString())
    const entry: SpinePage = { id, firstSeq: page.firstSeq ?? 0, entries: page.entries, bytes: page.entries.reduce((n, e) => n + entryBytes(e), 0), tail: page.tail }
    if (spine.length > 0 && frozen(entry, limits)) break
    spine.unshift(entry)
    id = page.tail
  }
  return spine
}
