import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire'
import type { CID } from 'multiformats/cid'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { LogReader, type Cursor, type Message } from '../core/reader.js'
import { decodePage, encodePage, PAGE_FORMAT, type Entry } from '../core/page.js'
import { checkPageClaims, decodePageHeader } from '../core/page-header.js'
import { walkChain } from '../core/page-chain.js'
import { sha256 } from '../core/ids.js'
import type { ContentStore } from '../core/content-store.js'
import type { NameSystem, OwnerKey } from '../core/name-system.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Entries from..from+count-1, inline; the sequences in `tombstones` are scrubbed. */
function entries (from: number, count: number, tombstones: number[] = []): Entry[] {
  return Array.from({ length: count }, (_, i): Entry => {
    const seq = from + i
    const data = text(`m${seq}`)
    return tombstones.includes(seq) ? { seq, localHash: sha256(data), tombstone: true } : { seq, localHash: sha256(data), data }
  })
}

interface PageSpec { firstSeq: number, count: number, tail?: CID, revision: number, scrubbed?: number[], tombstones?: number[], extra?: Uint8Array }

/** A page as encodePage writes it, plus `extra` raw fields appended (protobuf merges them in). */
function page (p: PageSpec): Uint8Array {
  const bytes = encodePage({ format: PAGE_FORMAT, firstSeq: p.firstSeq, entries: entries(p.firstSeq, p.count, p.tombstones), tail: p.tail, length: p.firstSeq + p.count, revision: p.revision, scrubbed: p.scrubbed ?? [] })
  return p.extra === undefined ? bytes : Buffer.concat([bytes, p.extra])
}

/** Raw field-8 (scrubbed) values that encodePage cannot write. */
const rawScrubbed = {
  negative: new BinaryWriter().tag(8, WireType.Varint).int64(-1n).finish(),
  nonInteger: new BinaryWriter().tag(8, WireType.Bit64).double(1.5).finish()
}

/**
 * A log of pages A (0–4) and head B0 (5–6), published by its owner, and a reader that synced it:
 * cursor at length 7. `publish` puts a crafted head and moves the name to it with the owner's key.
 */
async function syncedLog (): Promise<{ cas: ContentStore, ns: NameSystem, name: string, tail: CID, cursor: Cursor, publish: (bytes: Uint8Array, length: number, revision: number) => Promise<CID> }> {
  const cas = memoryCas()
  const ns = memoryNs()
  const owner: OwnerKey = { label: 'alice', secret: randomBytes(32) }
  const name = await ns.nameOf(owner)
  let previous: CID | undefined
  const publish = async (bytes: Uint8Array, length: number, revision: number): Promise<CID> => {
    const head = await cas.put(bytes)
    await ns.publish(name, { head, length, revision }, owner, { previous })
    previous = head
    return head
  }
  const tail = await cas.put(page({ firstSeq: 0, count: 5, revision: 1 }))
  await publish(page({ firstSeq: 5, count: 2, tail, revision: 1 }), 7, 1)
  const first = await sync(cas, ns, name, { length: 0 })
  expect(first.delivered.map(m => m.seq)).toEqual([0, 1, 2, 3, 4, 5, 6])
  return { cas, ns, name, tail, cursor: (await first.done).cursor, publish }
}

async function sync (cas: ContentStore, ns: NameSystem, name: string, cursor: Cursor): Promise<{ delivered: Message[], done: Promise<{ cursor: Cursor }> }> {
  const run = new LogReader({ cas, ns, name }).sync(cursor)
  const delivered: Message[] = []
  try {
    for await (const m of run.messages) delivered.push(m)
  } catch {}
  return { delivered, done: run.done }
}

describe('a reader checks the scrubbed list a head page claims', () => {
  const bad: Array<[string, Partial<PageSpec>, RegExp]> = [
    ['a duplicate', { scrubbed: [6, 6], tombstones: [6] }, /names sequence 6 twice/],
    ['an unsorted list', { scrubbed: [8, 6], tombstones: [6, 8] }, /not in ascending order/],
    ['a negative sequence (int64 -1 on the wire)', { extra: rawScrubbed.negative }, /scrubbed\[0\] 18446744073709551615 is out of range/],
    ['a non-integer (a double on the wire)', { extra: rawScrubbed.nonInteger }, /field 8 has wire type 1/],
    ['a sequence equal to the length', { scrubbed: [6, 10], tombstones: [6] }, /names sequence 10, outside the log's 10 entries/],
    ['1e15', { scrubbed: [6, 1e15], tombstones: [6] }, /names sequence 1000000000000000, outside/]
  ]
  it.each(bad)('rejects %s as MALFORMED naming the page; delivers nothing; the cursor stays', async (_what, spec, why) => {
    const log = await syncedLog()
    const before = structuredClone(log.cursor)
    const head = await log.publish(page({ firstSeq: 5, count: 5, tail: log.tail, revision: 2, ...spec }), 10, 2)
    const { delivered, done } = await sync(log.cas, log.ns, log.name, log.cursor)
    expect(delivered).toEqual([])
    const error = await done.then(() => undefined, (e: unknown) => e)
    expect(error).toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(why) })
    expect((error as Error).message).toContain(`page ${head.toString()}`)
    expect(log.cursor).toEqual(before)
    // walkChain (packs, scrub, restore) and decodePage reject the same page with the same check.
    await expect((async () => { for await (const _ of walkChain(log.cas, head)) { /* walk */ } })()).rejects.toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(why) })
  })

  it('accepts a valid list: scrub notices for delivered entries, tombstones for new ones, a sorted cursor', async () => {
    const log = await syncedLog()
    const head = await log.publish(page({ firstSeq: 5, count: 5, tail: log.tail, revision: 2, scrubbed: [6, 8], tombstones: [6, 8] }), 10, 2)
    const { delivered, done } = await sync(log.cas, log.ns, log.name, log.cursor)
    expect(delivered.map(m => [m.seq, m.tombstone])).toEqual([[6, true], [7, false], [8, true], [9, false]])
    const outcome = await done as { cursor: Cursor, scrubbedNow: number[] }
    expect(outcome.scrubbedNow).toEqual([6])
    expect(outcome.cursor).toEqual({ length: 10, head: head.toString(), revision: 2, scrubbed: [6, 8] })
  })
})

describe('a reader checks every other claim of a page', () => {
  const cases: Array<[string, (tail: CID) => Uint8Array, RegExp]> = [
    ['an entry the list names that still has its payload', tail => page({ firstSeq: 5, count: 5, tail, revision: 2, scrubbed: [8] }), /entry 8 is listed as scrubbed but still carries its payload/],
    ['a tombstone the head does not list', tail => page({ firstSeq: 5, count: 5, tail, revision: 2, tombstones: [8] }), /entry 8 is a tombstone the head's scrubbed list does not name/],
    ['first_seq out of the safe range', tail => page({ firstSeq: 5, count: 5, tail, revision: 2, extra: new BinaryWriter().tag(4, WireType.Varint).uint64(2n ** 60n).finish() }), /first_seq 1152921504606846976 is out of range/],
    ['first_seq with the wrong wire type', tail => page({ firstSeq: 5, count: 5, tail, revision: 2, extra: new BinaryWriter().tag(4, WireType.Bit64).fixed64(5n).finish() }), /field 4 has wire type 1/],
    ['a newer page format', tail => page({ firstSeq: 5, count: 5, tail, revision: 2, extra: new BinaryWriter().tag(3, WireType.Varint).uint32(2).finish() }), /page format 2; this remotelog reads formats 0 to 1/],
    ['a tail that is not a remotelog id', () => page({ firstSeq: 5, count: 5, revision: 2, extra: new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3])).finish() }), /its tail is not a remotelog id/]
  ]
  it.each(cases)('rejects %s', async (_what, make, why) => {
    const log = await syncedLog()
    const before = structuredClone(log.cursor)
    await log.publish(make(log.tail), 10, 2)
    const { delivered, done } = await sync(log.cas, log.ns, log.name, log.cursor)
    expect(delivered).toEqual([])
    await expect(done).rejects.toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(why) })
    expect(log.cursor).toEqual(before)
  })

  it('rejects an older page that claims a later revision than the page naming it', async () => {
    const log = await syncedLog()
    const older = await log.cas.put(page({ firstSeq: 5, count: 2, tail: log.tail, revision: 5 }))
    await log.publish(page({ firstSeq: 7, count: 3, tail: older, revision: 2 }), 10, 2)
    const { delivered, done } = await sync(log.cas, log.ns, log.name, { length: 0 })
    expect(delivered).toEqual([])
    await expect(done).rejects.toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(/claims revision 5, after the revision 2/) })
  })

  it('checkPageClaims refuses in-memory values no wire form can carry (non-integers, negatives)', () => {
    const claims = { format: 1, firstSeq: 0, count: 3, length: 3, revision: 1 }
    expect(() => checkPageClaims('page X', { ...claims, scrubbed: [1.5] })).toThrow(/page X: scrubbed\[0\] = 1.5 is not a sequence number/)
    expect(() => checkPageClaims('page X', { ...claims, scrubbed: [-1] })).toThrow(/scrubbed\[0\] = -1 is not a sequence number/)
    expect(() => checkPageClaims('page X', { ...claims, firstSeq: 0.5, length: 3.5, scrubbed: [] })).toThrow(/first_seq 0.5/)
    expect(() => checkPageClaims('page X', { ...claims, scrubbed: [0, 2] })).not.toThrow()
  })

  it('decodePage and decodePageHeader share the checks', () => {
    const bytes = page({ firstSeq: 5, count: 5, revision: 1, scrubbed: [3, 3] })
    expect(() => decodePageHeader(bytes, 'page P')).toThrow(/page P: the scrubbed list names sequence 3 twice/)
    expect(() => decodePage(bytes, 'page P')).toThrow(/page P: the scrubbed list names sequence 3 twice/)
    const ok = decodePage(page({ firstSeq: 5, count: 5, revision: 1, scrubbed: [3, 6], tombstones: [6] }))
    expect(ok.scrubbed).toEqual([3, 6])
  })
})
