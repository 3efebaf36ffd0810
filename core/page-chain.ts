import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { fail } from './errors.js'
import { cidOf } from './ids.js'
import { decodePage, equalBytes, type Page } from './page.js'
import { checkScrubbedEntries, decodePageHeader, type PageHeader } from './page-header.js'

/** One page of a log's chain, with its id and its encoded bytes. */
export interface ChainPage {
  id: CID
  page: Page
  bytes: Uint8Array
}

/**
 * Fetches a page by id, checks that its bytes hash to the id, and decodes it.
 * @example const { page } = await fetchPage(cas, head)
 */
export async function fetchPage (cas: ContentStore, id: CID, signal?: AbortSignal): Promise<ChainPage> {
  const bytes = await fetchPageBytes(cas, id, signal)
  return { id, page: decodePage(bytes, `page ${id.toString()}`), bytes }
}

/**
 * Fetches a page's bytes and checks that they hash to its id (INTEGRITY otherwise), whatever the store.
 * @example const bytes = await fetchPageBytes(cas, head)
 */
export async function fetchPageBytes (cas: ContentStore, id: CID, signal?: AbortSignal): Promise<Uint8Array> {
  const key = id.toString()
  const bytes = await cas.get(id, { signal })
  if (!cidOf(bytes).equals(id)) throw fail('INTEGRITY', `page bytes do not match ${key}`, { backend: cas.backend })
  return bytes
}

/** A decoded page, or only its header: what the chain checks look at. */
export type PageLinks = Page | PageHeader

function countOf (page: PageLinks): number {
  return 'entries' in page ? page.entries.length : page.count
}

/**
 * Throws MALFORMED unless `page` (the head) carries the remotelog header.
 * @example checkHeadPage(id, decodePage(bytes))
 */
export function checkHeadPage (id: CID, page: PageLinks): void {
  if (page.format === 0) throw fail('MALFORMED', `head page ${id.toString()} has no remotelog header (format 0); RFC-only logs are not supported by sync`)
}

/**
 * Throws MALFORMED for a page that claims to start the log (sequence 0) yet names an older page.
 * @example checkStart(id, page)
 */
export function checkStart (id: CID, page: PageLinks): void {
  if (page.firstSeq === 0 && page.tail !== undefined) throw fail('MALFORMED', `page ${id.toString()} starts the log (sequence 0) but has a tail`)
}

/**
 * Throws MALFORMED unless `older` — the page `newer.tail` names — continues the chain: a remotelog
 * page of the same log (log id), not empty, written no later than `newer` (revision), whose
 * sequences end exactly where `newer`'s begin (no overlap, no gap). What each page claims about
 * itself is checked when it is decoded (`checkPageClaims`).
 * @example checkTail({ id: headId, page: head }, { id: head.tail!, page: older })
 */
export function checkTail (newer: { id: CID, page: PageLinks }, older: { id: CID, page: PageLinks }): void {
  const olderId = older.id.toString()
  if (older.page.format === 0) throw fail('MALFORMED', `page ${olderId} has no remotelog header`)
  if (newer.page.logId !== undefined && (older.page.logId === undefined || !equalBytes(older.page.logId, newer.page.logId))) {
    throw fail('MALFORMED', `page ${olderId} belongs to another log than page ${newer.id.toString()}`)
  }
  if (countOf(older.page) === 0) throw fail('MALFORMED', `page ${olderId} is an empty non-head page`)
  if (older.page.revision! > newer.page.revision!) {
    throw fail('MALFORMED', `page ${olderId} claims revision ${older.page.revision}, after the revision ${newer.page.revision} of page ${newer.id.toString()} that names it as its tail`)
  }
  if (older.page.length !== newer.page.firstSeq) {
    const what = older.page.length! > newer.page.firstSeq! ? 'overlaps' : 'leaves a gap before'
    throw fail('MALFORMED', `page ${olderId} (sequences ${older.page.firstSeq}–${older.page.length! - 1}) ${what} page ${newer.id.toString()} starting at ${newer.page.firstSeq}`)
  }
}

/**
 * The MALFORMED error for a page that does not start the log yet has no tail to follow.
 * @example if (page.firstSeq! > 0 && page.tail === undefined) throw missingTail(id, page)
 */
export function missingTail (id: CID, page: PageLinks): Error {
  return fail('MALFORMED', `page ${id.toString()} starts at sequence ${page.firstSeq} but has no tail: history is missing`)
}

/**
 * Walks a log's pages from `head` back to the page that holds sequence `from` (default 0: the
 * whole log), newest first, checking every link and every claim: each page's header
 * (`decodePage`), each tail (`checkTail`, `checkStart`, `missingTail`), and every entry against
 * the head's scrubbed list (`checkScrubbedEntries`). With `fromHead: false` the walk starts at an
 * older page, whose (empty) scrubbed list is not the log's: only the entries it names are checked.
 * Reads one page ahead: as soon as a page's header names its tail (and the walk will go on), the
 * tail's get starts, so it runs while this page is decoded and used. So at most two pages are in
 * memory, and a walk left early may have read one page more than it yielded.
 * @example
 * for await (const { id, page } of walkChain(cas, head)) console.log(id.toString(), page.firstSeq)
 */
export async function * walkChain (cas: ContentStore, head: CID, options: { from?: number, fromHead?: boolean, signal?: AbortSignal } = {}): AsyncGenerator<ChainPage> {
  const from = options.from ?? 0
  const { signal } = options
  let ahead: Promise<Uint8Array> | undefined
  /** Decodes a page fetched (and hash-checked) by id, first starting the get of its tail if the walk goes there. */
  const decode = (id: CID, bytes: Uint8Array): ChainPage => {
    const where = `page ${id.toString()}`
    // decodePage reads the header again and throws the same errors; the header alone is cheap.
    const header = decodePageHeader(bytes, where)
    ahead = undefined
    if (header.firstSeq! > from && header.tail !== undefined) {
      ahead = fetchPageBytes(cas, header.tail, signal)
      ahead.catch(() => {}) // awaited when the walk gets there; ignored if it ends before
    }
    return { id, page: decodePage(bytes, where), bytes }
  }
  let current = decode(head, await fetchPageBytes(cas, head, signal))
  checkHeadPage(head, current.page)
  checkStart(head, current.page)
  const scrubbed = new Set(current.page.scrubbed)
  const complete = options.fromHead !== false
  checkScrubbedEntries(`page ${head.toString()}`, current.page.entries, scrubbed, complete)
  yield current
  while (current.page.firstSeq! > from) {
    if (current.page.tail === undefined) throw missingTail(current.id, current.page)
    const id = current.page.tail
    const older = decode(id, await (ahead ?? fetchPageBytes(cas, id, signal)))
    checkTail(current, older)
    checkStart(older.id, older.page)
    checkScrubbedEntries(`page ${older.id.toString()}`, older.page.entries, scrubbed, complete)
    current = older
    yield current
  }
}
