import { fail } from './errors.js'
import { MAX_OBJECT_BYTES } from './ids.js'

/**
 * How payloads sit in pages (SPEC §4): `pointer` — pages carry the payload's CAS id; `inline` —
 * pages carry the payload (a fully replicated log); `hybrid` — the newest `inlineRecent` inline.
 */
export type LogMode = 'pointer' | 'inline' | 'hybrid'

/** How a log's pages are made: mode, page size, fetch concurrency. */
export interface LogOptions {
  mode: LogMode
  /** Entries per page before a new head page starts. */
  pageEntries: number
  /** Encoded bytes per page before a new head page starts (at most 1 MiB). */
  pageBytes: number
  /** Hybrid mode: how many of the newest entries are inline. */
  inlineRecent: number
  /** Payload puts and gets in flight at once. */
  concurrency: number
}

/** The defaults: inline pages of up to 256 entries or 256 KiB, 16 fetches in flight. */
export const defaultLogOptions: LogOptions = {
  mode: 'inline',
  pageEntries: 256,
  pageBytes: 256 * 1024,
  inlineRecent: 16,
  concurrency: 16
}

/** Fills defaults and checks the bounds; INVALID_CONFIG when out of range. */
export function logOptions (given: Partial<LogOptions> = {}): LogOptions {
  const o = { ...defaultLogOptions, ...given }
  if (!['pointer', 'inline', 'hybrid'].includes(o.mode)) throw fail('INVALID_CONFIG', `log mode must be pointer, inline or hybrid, not ${String(o.mode)}`)
  if (!Number.isInteger(o.pageEntries) || o.pageEntries < 1) throw fail('INVALID_CONFIG', 'pageEntries must be a positive integer')
  if (!Number.isInteger(o.pageBytes) || o.pageBytes < 1024 || o.pageBytes > MAX_OBJECT_BYTES) throw fail('INVALID_CONFIG', `pageBytes must be between 1024 and ${MAX_OBJECT_BYTES}`)
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw fail('INVALID_CONFIG', 'concurrency must be a positive integer')
  return o
}
