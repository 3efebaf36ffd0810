import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { fail, isRemoteLogError } from './errors.js'
import { cidOf } from './ids.js'
import type { NameSystem, ResolvedHead } from './name-system.js'
import { decodePage, equalBytes, type Entry } from './page.js'
import { checkScrubbedEntries, decodePageHeader, type PageHeader } from './page-header.js'
import { checkHeadPage, checkStart, checkTail, fetchPageBytes, missingTail } from './page-chain.js'
import { PageCache } from './page-cache.js'
import { mvdsId } from './mvds.js'

/** Where a reader stands in a log. Persist it after delivery; pass it to the next sync. */
export interface Cursor {
  /** Entries delivered so far = the next sequence number to deliver. */
  length: number
  /** Head and revision of the last complete sync: an unchanged head means nothing to fetch. */
  head?: string
  revision?: number
  /** Scrubbed sequence numbers already known. */
  scrubbed?: number[]
}

/** A delivered log entry. A tombstone has no payload: the writer scrubbed it. */
export interface Message {
  seq: number
  localHash: Uint8Array
  payload?: Uint8Array
  tombstone: boolean
  groupId?: Uint8Array
  timestamp?: bigint
}

/** What a reader reads from: the backends and the name, with its fetch window and page cache. */
export interface ReaderOptions {
  cas: ContentStore
  ns: NameSystem
  /** The log's name in `ns`. */
  name: string
  /** Payload gets in flight at once (pointer mode). */
  concurrency?: number
  /** Bytes of decoded pages kept between the walk back and delivery. */
  pageCacheBytes?: number
}

/** What one sync found: the new cursor (once everything is delivered) and what it delivered. */
export interface SyncOutcome {
  cursor: Cursor
  changed: boolean
  delivered: number
  /** Messages scrubbed since the last sync among those already delivered. */
  scrubbedNow: number[]
}

interface PageRef { id: CID, firstSeq: number, count: number }

/**
 * The receiving side of a log (SPEC §4, receiving flow). `sync` resolves the name; when the head is
 * the cursor's, it stops after that one NS request. Otherwise it walks pages back to the cursor,
 * then delivers entries in sequence order with bounded-concurrency payload fetches, verifying every
 * id. Memory is bounded by the page cache and the fetch window, not by the log's length.
 * @example
 * const reader = new LogReader({ cas, ns, name })
 * const sync = reader.sync({ length: 0 })
 * for await (const m of sync.messages) console.log(m.seq, m.payload)
 * const { cursor } = await sync.done
 */
export class LogReader {
  private readonly concurrency: number
  private readonly pageCacheBytes: number

  constructor (private readonly options: ReaderOptions) {
    this.concurrency = options.concurrency ?? 16
    this.pageCacheBytes = options.pageCacheBytes ?? 8 * 1024 * 1024
  }

  /**
   * Starts a sync from `cursor`. Iterate `messages` (in sequence order, scrub notices first as
   * tombstones for already-delivered seqs); `done` settles with the outcome after the last one.
   * If iteration stops early, persist the cursor as `{ length: last delivered seq + 1 }`.
   */
  sync (cursor: Cursor, signal?: AbortSignal): { messages: AsyncGenerator<Message>, done: Promise<SyncOutcome> } {
    let settle!: (outcome: SyncOutcome) => void
    let reject!: (e: unknown) => void
    const done = new Promise<SyncOutcome>((resolve, rej) => { settle = resolve; reject = rej })
    done.catch(() => {})
    const self = this
    async function * messages (): AsyncGenerator<Message> {
      try {
        const outcome = yield * self.run(cursor, signal)
        settle(outcome)
      } catch (e) {
        reject(e)
        throw e
      }
    }
    return { messages: messages(), done }
  }

  private async * run (cursor: Cursor, signal?: AbortSignal): AsyncGenerator<Message, SyncOutcome> {
    const { ns, name } = this.options
    // A writer deletes the pages a publish replaces: a page that vanished between resolve and the
    // walk back means the name moved on, so resolve again (after that, a missing page is an error).
    let resolved: ResolvedHead
    let headBytes: Uint8Array
    let head: PageHeader
    let chain: PageRef[]
    const cache = new PageCache(this.pageCacheBytes)
    for (let attempt = 1; ; attempt++) {
      resolved = await ns.resolve(name, { signal })
      if (cursor.head !== undefined && resolved.head.toString() === cursor.head) {
        return { cursor, changed: false, delivered: 0, scrubbedNow: [] }
      }
      try {
        headBytes = await this.fetchBytes(resolved.head, signal)
        // Every claim of the head page (counts, sequences, revision, scrubbed list) is checked here,
        // before anything is delivered; each older page's when the walk reads it.
        head = decodePageHeader(headBytes, `page ${resolved.head.toString()}`)
        checkHeadPage(resolved.head, head)
        this.checkHead(resolved, head, cursor)
        chain = await this.walkBack(resolved.head, head, cursor.length, cache, signal)
        break
      } catch (e) {
        if (attempt >= 3 || !isRemoteLogError(e, 'NOT_FOUND')) throw e
      }
    }
    const known = new Set(cursor.scrubbed ?? [])
    const scrubbedNow = head.scrubbed.filter(s => s < cursor.length && !known.has(s))
    for (const seq of scrubbedNow) yield { seq, localHash: new Uint8Array(0), tombstone: true }

    let delivered = 0
    cache.set(resolved.head.toString(), headBytes, true)
    const scrubbed = new Set(head.scrubbed)
    for await (const message of this.deliver(this.entries(chain, cursor.length, scrubbed, cache, signal), signal)) {
      delivered++
      yield message
    }
    const length = head.length!
    return {
      changed: true,
      delivered,
      scrubbedNow,
      cursor: { length, head: resolved.head.toString(), revision: head.revision, scrubbed: [...head.scrubbed] }
    }
  }

  /** The name's pointer must agree with the head page, and neither may go back past the cursor. */
  private checkHead (resolved: ResolvedHead, head: PageHeader, cursor: Cursor): void {
    const id = resolved.head.toString()
    if (resolved.length !== undefined && resolved.length !== head.length) throw fail('MALFORMED', `name says length ${resolved.length}, head page ${id} says ${head.length}`)
    if (resolved.revision !== undefined && resolved.revision !== head.revision) throw fail('MALFORMED', `name says revision ${resolved.revision}, head page ${id} says ${head.revision}`)
    if (head.length! < cursor.length) throw fail('CONFLICT', `log rolled back: head ${id} has ${head.length} entries, ${cursor.length} were already delivered`)
    if (cursor.revision !== undefined && head.revision! < cursor.revision) throw fail('CONFLICT', `log rolled back: head ${id} is revision ${head.revision}, revision ${cursor.revision} was seen before`)
  }

  /** Walks tails from the head back to the page holding `from`; returns page refs oldest first. */
  private async walkBack (headId: CID, head: PageHeader, from: number, cache: PageCache, signal?: AbortSignal): Promise<PageRef[]> {
    const chain: PageRef[] = [{ id: headId, firstSeq: head.firstSeq!, count: head.count }]
    let page = head
    let id = headId
    for (;;) {
      checkStart(id, page)
      if (page.firstSeq! <= from) break
      if (page.tail === undefined) throw missingTail(id, page)
      const older = { id: page.tail, page: await this.fetchHeader(page.tail, cache, signal) }
      checkTail({ id, page }, older)
      id = older.id
      page = older.page
      chain.push({ id, firstSeq: page.firstSeq!, count: page.count })
    }
    if (chain.at(-1)!.firstSeq > from) throw fail('MALFORMED', 'the page chain does not reach the cursor')
    return chain.reverse()
  }

  /** Fetches a page's bytes (verified against its id) and reads its header; keeps the bytes while the cache has room. */
  private async fetchHeader (id: CID, cache: PageCache, signal?: AbortSignal): Promise<PageHeader> {
    const key = id.toString()
    const bytes = await this.fetchBytes(id, signal)
    const header = decodePageHeader(bytes, `page ${key}`)
    cache.set(key, bytes)
    return header
  }

  private async fetchBytes (id: CID, signal?: AbortSignal): Promise<Uint8Array> {
    return await fetchPageBytes(this.options.cas, id, signal)
  }

  /**
   * The chain's entries from `from` on, oldest first, decoding (and if needed re-fetching) one page
   * at a time; each page's entries must agree with the head's scrubbed list before any is yielded.
   */
  private async * entries (chain: PageRef[], from: number, scrubbed: ReadonlySet<number>, cache: PageCache, signal?: AbortSignal): AsyncGenerator<Entry> {
    for (const ref of chain) {
      const key = ref.id.toString()
      const page = decodePage(cache.get(key) ?? await this.fetchBytes(ref.id, signal), `page ${key}`)
      if (page.firstSeq !== ref.firstSeq || page.entries.length !== ref.count) throw fail('INTEGRITY', `page ${key} changed between two reads`)
      checkScrubbedEntries(`page ${key}`, page.entries, scrubbed, true)
      for (const entry of page.entries) if (entry.seq >= from) yield entry
    }
  }

  /**
   * Yields entries as messages in order, with up to `concurrency` payload fetches in flight; the
   * window runs across page boundaries, so the next page is read while payloads still arrive.
   */
  private async * deliver (entries: AsyncIterator<Entry>, signal?: AbortSignal): AsyncGenerator<Message> {
    const inFlight: Array<Promise<Message>> = []
    let exhausted = false
    const fill = async (): Promise<void> => {
      while (!exhausted && inFlight.length < this.concurrency) {
        const next = await entries.next()
        if (next.done === true) { exhausted = true; return }
        const fetching = this.toMessage(next.value, signal)
        fetching.catch(() => {}) // awaited in order below; this only keeps an abandoned fetch from going unhandled
        inFlight.push(fetching)
      }
    }
    await fill()
    while (inFlight.length > 0) {
      const message = await inFlight.shift()!
      await fill()
      yield message
    }
  }

  private async toMessage (entry: Entry, signal?: AbortSignal): Promise<Message> {
    const message: Message = { seq: entry.seq, localHash: entry.localHash, tombstone: entry.tombstone === true }
    if (entry.groupId !== undefined) { message.groupId = entry.groupId; message.timestamp = entry.timestamp }
    if (message.tombstone) return message
    let payload = entry.data
    if (payload === undefined) {
      const id = entry.remoteHash!
      const where = id.toString()
      payload = await this.options.cas.get(id, { signal })
      if (!cidOf(payload).equals(id)) throw fail('INTEGRITY', `payload of entry ${entry.seq} does not match ${where}`)
      if (entry.groupId !== undefined && !equalBytes(mvdsId(entry.groupId, entry.timestamp ?? 0n, payload), entry.localHash)) {
        throw fail('INTEGRITY', `MVDS id of entry ${entry.seq} does not match its payload`)
      }
    }
    message.payload = payload
    return message
  }
}

