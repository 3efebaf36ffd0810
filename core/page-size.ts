import type { Entry } from './page.js'

function varintBytes (n: number): number {
  let bytes = 1
  while (n >= 0x80) { n = Math.floor(n / 128); bytes++ }
  return bytes
}

function field (length: number): number {
  return length === 0 ? 0 : 1 + varintBytes(length) + length
}

/** Encoded size of one entry inside a page (exact for our encoder). */
export function entryBytes (e: Entry): number {
  const inner = field(e.remoteHash?.bytes.byteLength ?? 0) + field(e.localHash.byteLength) +
    field(e.data?.byteLength ?? 0) + (e.tombstone === true ? 2 : 0) +
    field(e.groupId?.byteLength ?? 0) + (e.timestamp !== undefined && e.timestamp > 0n ? 11 : 0)
  return 1 + varintBytes(inner) + inner
}

/** Upper bound of a page's header: format, sequence numbers, count, tail, scrubbed list. */
export function headerBytes (scrubbed: number): number {
  return 2 + 3 * 10 + 6 + 40 + scrubbed * 10 + 4
}
