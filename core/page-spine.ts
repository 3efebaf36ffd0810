import type { CID } from 'multiformats/cid'
import type { Entry } from './page.js'
import { entryBytes } from './page-size.js'

/**
 * A page of a log's spine: the pages from the head back to the first frozen one. `id` is set for a
 * page already in the store; a page without one is written by the publish that made it.
 */
export interface SpinePage {
  id?: CID
  firstSeq: number
  entries: Entry[]
  /** Encoded bytes of the entries (the header not counted). */
  bytes: number
  /** The page before it (older), for the spine's oldest page. */
  tail?: CID
}

/** How large a page may be: entries, bytes, and the bytes its header may take. */
export interface PageLimits {
  entries: number
  bytes: number
  header: number
}

/**
 * A page over half of either limit is frozen: it never merges again, so it is never rewritten.
 * Two pages that are not frozen always fit together in one.
 */
export function frozen (page: Pick<SpinePage, 'entries' | 'bytes'>, limits: PageLimits): boolean {
  return page.entries.length * 2 > limits.entries || (limits.header + page.bytes) * 2 > limits.bytes
}

function fits (count: number, bytes: number, limits: PageLimits): boolean {
  return count <= limits.entries && limits.header + bytes <= limits.bytes
}

/**
 * The spine after appending `entries`: they go into new pages as full as the limits allow, and then,
 * like carries in a binary counter, the two newest pages merge while the newer one is at least as
 * large as the older one and the older one is not frozen. So a page is rewritten only when its
 * size doubles — each entry O(log page size) times, and the bytes a publish writes grow with what
 * it adds, not with the head page's size — while the spine stays short (sizes halve toward the
 * head) and frozen pages are more than half full. Returns the new spine, oldest first.
 * @example stackPages(spine, newEntries, { entries: 256, bytes: 256 * 1024, header: 100 })
 */
export function stackPages (spine: readonly SpinePage[], entries: readonly Entry[], limits: PageLimits): SpinePage[] {
  const out = spine.slice()
  // More than one page of new entries: the pages that may still merge go into the same run, so that
  // a large append fills whole pages instead of leaving a small page frozen under a full one.
  // The head may join too while it has room, frozen or not: rewriting it costs no more than what arrives.
  let start = out.length
  if (start > 0 && fits(out[start - 1].entries.length + 1, out[start - 1].bytes + entries.reduce((n, e) => Math.min(n, entryBytes(e)), Infinity), limits)) start--
  while (start > 0 && !frozen(out[start - 1], limits)) start--
  const carried = out.slice(start)
  const carriedBytes = carried.reduce((n, p) => n + p.bytes, 0)
  const newBytes = entries.reduce((n, e) => n + entryBytes(e), 0)
  let base: CID | undefined
  if (carried.length > 0 && !fits(carried.reduce((n, p) => n + p.entries.length, 0) + entries.length, carriedBytes + newBytes, limits)) {
    out.length = start
    base = carried[0].tail
    entries = carried.flatMap(p => p.entries).concat(entries)
  }
  const merge = (): void => {
    while (out.length >= 2) {
      const top = out[out.length - 1]
      const below = out[out.length - 2]
      if (frozen(below, limits) || top.bytes < below.bytes || !fits(below.entries.length + top.entries.length, below.bytes + top.bytes, limits)) return
      out.splice(-2, 2, { firstSeq: below.firstSeq, entries: below.entries.concat(top.entries), bytes: below.bytes + top.bytes, tail: below.tail })
    }
  }
  let page: SpinePage | undefined
  for (const entry of entries) {
    const bytes = entryBytes(entry)
    if (page !== undefined && !fits(page.entries.length + 1, page.bytes + bytes, limits)) {
      out.push(page)
      merge()
      page = undefined
    }
    page ??= { firstSeq: entry.seq, entries: [], bytes: 0, tail: out.length === 0 ? base : undefined }
    page.entries.push(entry)
    page.bytes += bytes
  }
  if (page !== undefined) {
    out.push(page)
    merge()
  }
  return out
}
