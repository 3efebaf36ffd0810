import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { LogWriter } from '../core/writer.js'
import { LogReader, type Cursor, type Message } from '../core/reader.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { countingCas, countingNs, emptyCounts } from '../core/counting.js'
import type { LogMode } from '../core/log-options.js'
import { decodePage } from '../core/page.js'

async function setup (mode: LogMode, pageEntries = 10) {
  const cas = memoryCas()
  const ns = memoryNs()
  const owner = { label: 'alice', secret: randomBytes(32) }
  const writer = await LogWriter.open({ cas, ns, owner, storage: memoryWriterStorage(), log: { mode, pageEntries } })
  return { cas, ns, owner, writer }
}

async function collect (reader: LogReader, cursor: Cursor): Promise<{ messages: Message[], cursor: Cursor }> {
  const sync = reader.sync(cursor)
  const messages: Message[] = []
  for await (const m of sync.messages) messages.push(m)
  return { messages, cursor: (await sync.done).cursor }
}

const text = (m: Message): string => new TextDecoder().decode(m.payload)

describe.each(['inline', 'pointer', 'hybrid'] as const)('writer and reader, %s mode', (mode) => {
  it('delivers every message once, in order, across pages and batches', async () => {
    const { cas, ns, writer } = await setup(mode)
    const reader = new LogReader({ cas, ns, name: writer.name })
    let cursor: Cursor = { length: 0 }
    const all: string[] = []
    for (let batch = 0; batch < 5; batch++) {
      const items = Array.from({ length: 7 + batch * 3 }, (_, i) => `b${batch}-m${i}`)
      all.push(...items)
      const seqs = await writer.append(items)
      expect(seqs[0]).toBe(all.length - items.length)
      const result = await writer.publish()
      expect(result?.length).toBe(all.length)
      const got = await collect(reader, cursor)
      expect(got.messages.map(m => m.seq)).toEqual(items.map((_, i) => seqs[0] + i))
      expect(got.messages.map(text)).toEqual(items)
      cursor = got.cursor
    }
    const fresh = await collect(new LogReader({ cas, ns, name: writer.name }), { length: 0 })
    expect(fresh.messages.map(text)).toEqual(all)
  })
})

describe('reader request counts', () => {
  it('a sync with no change is exactly 1 NS resolve and 0 CAS gets', async () => {
    const { cas, ns, writer } = await setup('pointer')
    await writer.append(['a', 'b', 'c'])
    await writer.publish()
    const counts = emptyCounts()
    const reader = new LogReader({ cas: countingCas(cas, counts), ns: countingNs(ns, counts), name: writer.name })
    const first = await collect(reader, { length: 0 })
    expect(first.messages).toHaveLength(3)
    Object.assign(counts, emptyCounts())
    const again = await collect(reader, first.cursor)
    expect(again.messages).toHaveLength(0)
    expect(counts.nsResolves).toBe(1)
    expect(counts.casGets).toBe(0)
  })

  it('fetches only pages after the cursor', async () => {
    const { cas, ns, writer } = await setup('inline', 10)
    await writer.append(Array.from({ length: 100 }, (_, i) => `m${i}`))
    await writer.publish()
    const counts = emptyCounts()
    const reader = new LogReader({ cas: countingCas(cas, counts), ns: countingNs(ns, counts), name: writer.name })
    const got = await collect(reader, { length: 95 })
    expect(got.messages.map(m => m.seq)).toEqual([95, 96, 97, 98, 99])
    expect(counts.casGets).toBe(1)
  })
})

describe('page rotation', () => {
  it('starts a new head page when the page is full by entries, linked by tail', async () => {
    const { cas, writer } = await setup('inline', 4)
    await writer.append(Array.from({ length: 10 }, (_, i) => `m${i}`))
    const result = await writer.publish()
    const head = decodePage(await cas.get(result!.head))
    expect(head.firstSeq).toBe(8)
    expect(head.entries).toHaveLength(2)
    const older = decodePage(await cas.get(head.tail!))
    expect(older.firstSeq).toBe(4)
    expect(older.length).toBe(8)
  })

  it('starts a new head page when the page is full by bytes', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const writer = await LogWriter.open({ cas, ns, owner: { label: 'a', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode: 'inline', pageEntries: 1000, pageBytes: 4096 } })
    await writer.append(Array.from({ length: 20 }, () => randomBytes(1000)))
    const result = await writer.publish()
    const bytes = await cas.get(result!.head)
    expect(bytes.byteLength).toBeLessThanOrEqual(4096)
    const head = decodePage(bytes)
    expect(head.entries.length).toBeLessThan(5)
    expect(head.tail).toBeDefined()
  })
})

describe('superseded head pages', () => {
  it('are deleted after each publish, so one-message publishes leave no copies behind', async () => {
    const { cas, ns, writer } = await setup('inline', 4)
    for (let i = 0; i < 10; i++) {
      await writer.append([`m${i}`])
      await writer.publish()
    }
    // 10 entries in pages of 4: two full pages and the head; every earlier head version is gone.
    expect(cas.size).toBe(3)
    const got = await collect(new LogReader({ cas, ns, name: writer.name }), { length: 0 })
    expect(got.messages.map(text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
  })

  it('a reader that resolved a head the writer then replaced and deleted resolves again', async () => {
    const { cas, ns, writer } = await setup('inline')
    await writer.append(['a'])
    await writer.publish()
    const stale = await ns.resolve(writer.name)
    await writer.append(['b'])
    await writer.publish()
    expect(await cas.has(stale.head)).toBe(false)
    let calls = 0
    const laggingNs = Object.assign(Object.create(ns), {
      async resolve (name: string) { return calls++ === 0 ? stale : await ns.resolve(name) }
    })
    const got = await collect(new LogReader({ cas, ns: laggingNs, name: writer.name }), { length: 0 })
    expect(got.messages.map(text)).toEqual(['a', 'b'])
    expect(calls).toBe(2)
  })
})
