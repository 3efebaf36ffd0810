import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { localCas } from '../adapters/cas/local.js'
import { heliaCas, type HeliaContentStore } from '../adapters/cas/helia.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { openEndpoint } from '../config/open-endpoint.js'
import { defaultConfig, type Config } from '../config/config.js'
import type { ContentStore } from '../core/content-store.js'
import type { ScrubEvent } from '../core/endpoint.js'
import { cidOf } from '../core/ids.js'
import type { LogMode } from '../core/log-options.js'
import { mvdsId } from '../core/mvds.js'
import { LogReader, type Cursor, type Message } from '../core/reader.js'
import { scrub } from '../core/scrub.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'
import { readAll } from './support/mixed-log.js'
import { tempDir } from './support/temp-dir.js'

const GROUP = randomBytes(32)
const body = (i: number): Uint8Array => new TextEncoder().encode(`secret-${i}-${'x'.repeat(i % 7)}`)

/** A 100-message MVDS log (one publish per 25) with a reader that has synced all of it. */
async function hundred (cas: ContentStore, mode: LogMode = 'pointer') {
  const ns = memoryNs()
  const writer = await LogWriter.open({ cas, ns, owner: { label: 'alice', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode, pageEntries: 20 } })
  for (let b = 0; b < 4; b++) {
    await writer.append(Array.from({ length: 25 }, (_, i) => ({ payload: body(b * 25 + i), groupId: GROUP, timestamp: BigInt(b * 25 + i) })))
    await writer.publish()
  }
  const reader = new LogReader({ cas, ns, name: writer.name })
  const first = await drain(reader, { length: 0 })
  expect(first.messages).toHaveLength(100)
  return { ns, writer, reader, cursor: first.cursor }
}

async function drain (reader: LogReader, cursor: Cursor): Promise<{ messages: Message[], cursor: Cursor, scrubbedNow: number[] }> {
  const sync = reader.sync(cursor)
  const messages: Message[] = []
  for await (const m of sync.messages) messages.push(m)
  const { cursor: next, scrubbedNow } = await sync.done
  return { messages, cursor: next, scrubbedNow }
}

const SCRUB = [5, 42, 77]

/** The checks every store gets: fresh reader, existing reader, MVDS ids, payloads gone. */
async function scrubThree (cas: ContentStore, gc: () => Promise<unknown>): Promise<void> {
  const { ns, writer, reader, cursor } = await hundred(cas)
  const payloads = SCRUB.map(i => cidOf(body(i)))
  for (const id of payloads) expect(await cas.has(id)).toBe(true)

  const result = await scrub(writer, SCRUB)
  expect(result).toMatchObject({ scrubbed: SCRUB, already: [], all: SCRUB, kept: [], undeletable: [] })
  expect(result.deleted.sort()).toEqual(payloads.map(String).sort())
  expect(result.pages).toBe(5) // seq 5 is on the first of 5 pages: every tail changes
  expect(writer.revision).toBe(5)
  await gc()
  for (const id of payloads) expect(await cas.has(id)).toBe(false)
  for (const i of [0, 6, 41, 43, 99]) expect(await cas.has(cidOf(body(i)))).toBe(true)

  // A fresh reader: 97 messages and 3 tombstones, in sequence order, with the same MVDS ids.
  const fresh = await readAll(cas, ns, writer.name)
  expect(fresh.map(m => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  expect(fresh.filter(m => m.tombstone).map(m => m.seq)).toEqual(SCRUB)
  for (const m of fresh) {
    expect(Buffer.from(m.localHash).equals(Buffer.from(mvdsId(GROUP, BigInt(m.seq), body(m.seq))))).toBe(true)
    if (!m.tombstone) expect(Buffer.from(m.payload!).equals(Buffer.from(body(m.seq)))).toBe(true)
    else expect(m.payload).toBeUndefined()
  }

  // The reader that had them: its next sync is the three tombstones, nothing else.
  const next = await drain(reader, cursor)
  expect(next.messages.map(m => [m.seq, m.tombstone])).toEqual(SCRUB.map(s => [s, true]))
  expect(next.scrubbedNow).toEqual(SCRUB)
  expect((await drain(reader, next.cursor)).messages).toEqual([])
}

describe('scrubbing 3 of 100 entries', () => {
  it('local store: payloads deleted, readers get tombstones, MVDS ids unchanged', async () => {
    const cas = await localCas({ path: join(await tempDir(), 'blocks') })
    try {
      await scrubThree(cas, async () => {})
    } finally {
      await cas.close()
    }
  })

  it('helia store: payloads unpinned and gone after gc, readers get tombstones', async () => {
    const cas: HeliaContentStore = await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() })
    try {
      await scrubThree(cas, async () => await cas.gc())
    } finally {
      await cas.close()
    }
  })
})

describe('scrub rules', () => {
  it('is idempotent: seqs scrubbed before are reported, not republished', async () => {
    const { writer } = await hundred(memoryCas())
    await scrub(writer, [5])
    const revision = writer.revision
    const again = await scrub(writer, [5])
    expect(again).toMatchObject({ scrubbed: [], already: [5], all: [5] })
    expect(again.publish).toBeUndefined()
    expect(writer.revision).toBe(revision)
    const more = await scrub(writer, [6, 5, 6])
    expect(more).toMatchObject({ scrubbed: [6], already: [5], all: [5, 6] })
    expect(writer.revision).toBe(revision + 1)
  })

  it('keeps a payload another entry has the same bytes of', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const writer = await LogWriter.open({ cas, ns, owner: { label: 'a', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode: 'pointer', pageEntries: 4 } })
    await writer.append(['same', 'other', 'x', 'y', 'z', 'same', 'w'])
    await writer.publish()
    const result = await scrub(writer, [0])
    const same = cidOf(new TextEncoder().encode('same')).toString()
    expect(result).toMatchObject({ kept: [same], deleted: [] })
    expect(await cas.has(cidOf(new TextEncoder().encode('same')))).toBe(true)
    const texts = (await readAll(cas, ns, writer.name)).map(m => m.tombstone ? null : new TextDecoder().decode(m.payload))
    expect(texts).toEqual([null, 'other', 'x', 'y', 'z', 'same', 'w'])
  })

  it('inline mode: the superseded pages that carried the payload are deleted; its bytes are nowhere in the store', async () => {
    const dir = join(await tempDir(), 'blocks')
    const cas = await localCas({ path: dir })
    try {
      const ns = memoryNs()
      const writer = await LogWriter.open({ cas, ns, owner: { label: 'a', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode: 'inline', pageEntries: 10 } })
      await writer.append(Array.from({ length: 35 }, (_, i) => i === 12 ? 'TOP-SECRET-MARKER' : `m${i}`))
      await writer.publish() // one publish: no older versions of the head page exist
      const result = await scrub(writer, [12])
      expect(result.deleted).toHaveLength(1) // the old page 10–19; its rewrite and newer pages remain
      const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter(f => f.isFile())
      const holding = []
      for (const f of files) if ((await readFile(join(f.parentPath, f.name))).includes('TOP-SECRET-MARKER')) holding.push(f.name)
      expect(holding).toEqual([])
      const messages = await readAll(cas, ns, writer.name)
      expect(messages.filter(m => m.tombstone).map(m => m.seq)).toEqual([12])
      expect(messages).toHaveLength(35)
    } finally {
      await cas.close()
    }
  })

  it('rejects what is not a published entry; refuses while appends are pending', async () => {
    const { writer } = await hundred(memoryCas())
    await expect(scrub(writer, [100])).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(scrub(writer, [-1])).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(scrub(writer, [1.5])).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await writer.append(['pending'])
    await expect(scrub(writer, [3])).rejects.toMatchObject({ code: 'CONFLICT' })
    await writer.publish()
    expect((await scrub(writer, [3])).scrubbed).toEqual([3])
  })
})

describe('endpoint scrub and the follower event', () => {
  it('alice scrubs; bob, who had the messages, drops them on his next sync and is told; carol gets tombstones', async () => {
    const root = await tempDir()
    const config: Config = { ...defaultConfig(join(root, 'store')), log: { mode: 'hybrid', pageEntries: 16, inlineRecent: 8 } }
    const alice = await openEndpoint({ dir: join(root, 'alice'), config })
    const bob = await openEndpoint({ dir: join(root, 'bob'), config })
    const carol = await openEndpoint({ dir: join(root, 'carol'), config })
    try {
      await alice.append(Array.from({ length: 100 }, (_, i) => `hello ${i}`))
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')
      expect((await bob.sync('alice')).delivered).toBe(100)

      const result = await alice.scrub([3, 50, 97]) // 97: inline in the hybrid head page
      expect(result.scrubbed).toEqual([3, 50, 97])
      expect(result.deleted.length).toBeGreaterThanOrEqual(3)

      const events: ScrubEvent[] = []
      const report = await bob.sync('alice', { onScrub: e => events.push(e) })
      expect(report).toMatchObject({ delivered: 0, scrubbed: [3, 50, 97] })
      expect(events).toEqual([{ alias: 'alice', address: await alice.address(), seqs: [3, 50, 97] }])
      const bobs: Array<[number, string | null]> = []
      for await (const m of bob.read('alice')) bobs.push([m.seq, m.tombstone ? null : new TextDecoder().decode(m.payload)])
      expect(bobs).toHaveLength(100)
      expect(bobs.filter(([, t]) => t === null).map(([s]) => s)).toEqual([3, 50, 97])
      expect(bobs[4]).toEqual([4, 'hello 4'])
      const raw = await readFile(join(root, 'bob', 'follows', 'alice', 'messages'))
      expect(raw.includes('hello 50')).toBe(false)
      expect(raw.includes('hello 51')).toBe(true)

      // A later sync tells nothing again.
      events.length = 0
      expect((await bob.sync('alice', { onScrub: e => events.push(e) })).scrubbed).toEqual([])
      expect(events).toEqual([])

      await carol.follow(await alice.address(), 'alice')
      expect((await carol.sync('alice')).delivered).toBe(100)
      const tomb: number[] = []
      for await (const m of carol.read('alice')) if (m.tombstone) tomb.push(m.seq)
      expect(tomb).toEqual([3, 50, 97])

      expect((await alice.scrub([3])).already).toEqual([3])

      // The log goes on after a scrub: new messages arrive, the tombstones stay.
      await alice.append(['after the scrub'])
      await alice.publish()
      expect(await bob.sync('alice', { onScrub: e => events.push(e) })).toMatchObject({ delivered: 1, scrubbed: [] })
      expect(events).toEqual([])
      const own: Array<[number, boolean]> = []
      for await (const m of alice.read('default', { from: 96 })) own.push([m.seq, m.tombstone])
      expect(own).toEqual([[96, false], [97, true], [98, false], [99, false], [100, false]])
    } finally {
      await Promise.all([alice.close(), bob.close(), carol.close()])
    }
  })
})
