import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { walkChain } from '../core/page-chain.js'
import { LogReader, type Cursor } from '../core/reader.js'
import { LogWriter } from '../core/writer.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import type { LogMode } from '../core/log-options.js'

/** A writer on memory backends whose store counts the bytes put into it. */
async function setup (mode: LogMode = 'inline', pageEntries = 256) {
  const cas = memoryCas()
  const ns = memoryNs()
  const put = cas.put.bind(cas)
  const counted = { bytes: 0 }
  cas.put = async (bytes, options) => { counted.bytes += bytes.byteLength; return await put(bytes, options) }
  const writer = await LogWriter.open({ cas, ns, owner: { label: 'a', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode, pageEntries } })
  return { cas, ns, writer, counted }
}

async function pageSizes (writer: LogWriter, cas: ReturnType<typeof memoryCas>): Promise<number[]> {
  const sizes: number[] = []
  for await (const { page } of walkChain(cas, writer.head!)) sizes.push(page.entries.length)
  return sizes.reverse()
}

describe('page layout', () => {
  it('one message per publish writes under 4 KB per 256-byte message and leaves no replaced page behind', async () => {
    const { cas, ns, writer, counted } = await setup()
    const reader = new LogReader({ cas, ns, name: writer.name })
    let cursor: Cursor = { length: 0 }
    const seen: number[] = []
    for (let i = 0; i < 1000; i++) {
      await writer.append([randomBytes(256)])
      await writer.publish()
      // A live follower reads every publish: each message once, in order.
      const sync = reader.sync(cursor)
      for await (const m of sync.messages) seen.push(m.seq)
      cursor = (await sync.done).cursor
    }
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(counted.bytes / 1000).toBeLessThan(4096)
    const sizes = await pageSizes(writer, cas)
    expect(sizes).toEqual([256, 256, 256, 128, 64, 32, 8]) // 1000 in binary, above whole pages
    expect(cas.size).toBe(sizes.length) // every page a publish merged away was released
  })

  it('delivers every entry once whatever the batch sizes, with pages over half full below the spine', async () => {
    let seed = 7
    const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (const mode of ['inline', 'pointer', 'hybrid'] as const) {
      const { cas, ns, writer } = await setup(mode, 32)
      let total = 0
      for (let round = 0; round < 60; round++) {
        const n = [1, 1, 2, 3, 15, 16, 17, 40][random(8)]
        await writer.append(Array.from({ length: n }, () => randomBytes(1 + random(300))))
        await writer.publish()
        total += n
      }
      const sync = new LogReader({ cas, ns, name: writer.name }).sync({ length: 0 })
      const seqs: number[] = []
      for await (const m of sync.messages) seqs.push(m.seq)
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i))
      const sizes = await pageSizes(writer, cas)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(total)
      // The spine (pages at most half full, halving toward the head) is short; the rest are over half full.
      let spine = sizes.length
      while (spine > 0 && sizes[spine - 1] * 2 <= 32) spine--
      expect(sizes.length - spine).toBeLessThanOrEqual(6)
      for (const size of sizes.slice(0, Math.max(0, spine - 1))) expect(size, `${mode}: ${sizes.join(',')}`).toBeGreaterThan(16)
    }
  })
})
