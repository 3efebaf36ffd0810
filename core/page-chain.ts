import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { fail } from './errors.js'
import { cidOf } from './ids.js'
import { decodePage, type Page } from './page.js'

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
  const key = id.toString()
  const bytes = await cas.get(id, { signal })
  if (!cidOf(bytes).equals(id)) throw fail('INTEGRITY', `page bytes do not match ${key}`, { backend: cas.backend })
  return { id, page: decodePage(bytes, `page ${key}`), bytes }
}

/**
 * Throws MALFORMED unless `page` (the head) carries the remotelog header.
 * @example checkHeadPage(id, decodePage(bytes))
 */
export function checkHeadPage (id: CID, page: Page): void {
  if (page.format === 0) throw fail('MALFORMED', `head page ${id.toString()} has no remotelog header (format 0); RFC-only logs are not supported by sync`)
}

/**
 * Throws MALFORMED unless `older` — the page `newer.tail` names — continues the chain: a remotelog
 * page, not empty, whose sequences end exactly where `newer`'s begin (no overlap, no gap).
 * @example checkTail({ id: headId, page: head }, { id: head.tail!, page: older })
 */
export function checkTail (newer: { id: CID, page: Page }, older: { id: CID, page: Page }): void {
  const olderId = older.id.toString()
  if (older.page.format === 0) throw fail('MALFORMED', `page ${olderId} has no remotelog header`)
  if (older.page.entries.length === 0) throw fail('MALFORMED', `page ${olderId} is an empty non-head page`)
  if (older.page.length !== newer.page.firstSeq) {
    const what = older.page.length! > newer.page.firstSeq! ? 'overlaps' : 'leaves a gap before'
    throw fail('MALFORMED', `page ${olderId} (sequences ${older.page.firstSeq}–${older.page.length! - 1}) ${what} page ${newer.id.toString()} starting at ${newer.page.firstSeq}`)
  }
}

/**
 * The MALFORMED error for a page that does not start the log yet has no tail to follow.
 * @example if (page.firstSeq! > 0 && page.tail === undefined) throw missingTail(id, page)
 */
export function missingTail (id: CID, page: Page): Error {
  return fail('MALFORMED', `page ${id.toString()} starts at sequence ${page.firstSeq} but has no tail: history is missing`)
}

/**
 * Walks a log's pages from `head` back to the page that holds sequence `from` (default 0: the
 * whole log), newest first, checking every link. One page is in memory at a time.
 * @example
 * for await (const { id, page } of walkChain(cas, head)) console.log(id.toString(), page.firstSeq)
 */
export async function * walkChain (cas: ContentStore, head: CID, options: { from?: number, signal?: AbortSignal } = {}): AsyncGenerator<ChainPage> {
  const from = options.from ?? 0
  let current = await fetchPage(cas, head, options.signal)
  checkHeadPage(head, current.page)
  yield current
  while (current.page.firstSeq! > from) {
    if (current.page.tail === undefined) throw missingTail(current.id, current.page)
    const older = await fetchPage(cas, current.page.tail, options.signal)
    checkTail(current, older)
    current = older
    yield current
  }
}
