import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { localCas } from '../adapters/cas/local.js'
import { heliaCas } from '../adapters/cas/helia.js'
import { kuboCas } from '../adapters/cas/kubo.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { formatAddress } from '../core/address.js'
import type { ContentStore } from '../core/content-store.js'
import type { NameSystem } from '../core/name-system.js'
import { exportPack, type ExportSummary } from '../core/pack-export.js'
import { importPack } from '../core/pack-import.js'
import { verifyPack } from '../core/pack-verify.js'
import { LogReader } from '../core/reader.js'
import { walkChain } from '../core/page-chain.js'
import { toCid } from '../core/ids.js'
import { mixedLog, readAll, type Expected, type MixedLog } from './support/mixed-log.js'
import { tempDir } from './support/temp-dir.js'

/** Asserts a fresh read gives back exactly the messages written, in sequence order. */
async function expectIdentical (cas: ContentStore, ns: NameSystem, name: string, expected: Expected[]): Promise<void> {
  const messages = await readAll(cas, ns, name)
  expect(messages.map(m => m.seq)).toEqual(expected.map(e => e.seq))
  const wrong = messages.filter((m, i) => m.tombstone || m.payload === undefined || Buffer.compare(m.payload, expected[i].payload) !== 0)
  expect(wrong.map(m => m.seq)).toEqual([])
}

/**
 * Payload blocks the log's pages point at (pointer and hybrid entries): distinct in the store, and
 * in the pack once per page that points at them (each page's payloads follow it).
 */
async function payloadBlocks (cas: ContentStore, log: MixedLog): Promise<{ distinct: number, inPack: number }> {
  const all = new Set<string>()
  let inPack = 0
  for await (const { page } of walkChain(cas, log.writer.head!)) {
    const ids = new Set(page.entries.filter(e => e.remoteHash !== undefined).map(e => e.remoteHash!.toString()))
    inPack += ids.size
    for (const id of ids) all.add(id)
  }
  return { distinct: all.size, inPack }
}

// One 5,000-message log whose pages mix all three modes, exported once for the whole file.
const sourceCas = memoryCas()
const ns = memoryNs()
let log: MixedLog
let pack: string
let exported: ExportSummary

beforeAll(async () => {
  log = await mixedLog(sourceCas, ns, [['inline', 2000], ['pointer', 1500], ['hybrid', 1500]])
  pack = join(await tempDir(), 'log.car')
  exported = await exportPack(pack, { cas: sourceCas, head: log.writer.head!, address: formatAddress({ scheme: ns.scheme, name: log.name }) })
})

describe('pack round trip of a 5,000-message mixed-mode log', () => {
  it('the export holds every page and payload, and verify reports the same', async () => {
    const pages = []
    for await (const p of walkChain(sourceCas, log.writer.head!)) pages.push(p)
    expect(pages.length).toBeGreaterThan(40)
    const summary = await verifyPack(pack)
    const payloads = await payloadBlocks(sourceCas, log)
    expect(payloads.inPack).toBeGreaterThan(payloads.distinct) // the fixture repeats payloads across pages
    expect(summary).toMatchObject({
      head: log.writer.head!.toString(),
      length: 5000,
      revision: log.writer.revision,
      since: 0,
      incremental: false,
      firstSeq: 0,
      pages: pages.length,
      payloads: payloads.inPack,
      messages: 5000,
      tombstones: 0,
      blocks: 1 + pages.length + payloads.inPack
    })
    expect(summary.inline).toBeGreaterThan(2000) // the inline segment plus hybrid's newest
    expect(summary.fileBytes).toBe(exported.fileBytes)
    expect({ ...exported, file: undefined }).toMatchObject({ ...summary, fileBytes: exported.fileBytes, file: undefined })
  })

  it('exporting the same log twice gives the same bytes', async () => {
    const again = join(await tempDir(), 'again.car')
    await exportPack(again, { cas: sourceCas, head: log.writer.head!, address: formatAddress({ scheme: ns.scheme, name: log.name }) })
    const { readFile } = await import('node:fs/promises')
    expect(Buffer.compare(await readFile(again), await readFile(pack))).toBe(0)
  })

  describe('imported into a fresh store, a fresh reader reads it back identical', () => {
    it('memory', async () => {
      const cas = memoryCas()
      const imported = await importPack(pack, cas)
      expect(imported.stored).toBe(exported.blocks - 1) // every block but the manifest
      expect(cas.size).toBe(exported.pages + (await payloadBlocks(sourceCas, log)).distinct)
      await expectIdentical(cas, ns, log.name, log.expected)
    })

    it('local', async () => {
      const cas = await localCas({ path: join(await tempDir(), 'blocks') })
      try {
        await importPack(pack, cas)
        await expectIdentical(cas, ns, log.name, log.expected)
      } finally {
        await cas.close()
      }
    })

    it('helia', async () => {
      const cas = await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() })
      try {
        await importPack(pack, cas)
        expect(await cas.isPinned(log.writer.head!)).toBe(true)
        await expectIdentical(cas, ns, log.name, log.expected)
      } finally {
        await cas.close()
      }
    })

    describe('kubo RPC', () => {
      let node: IpfsRpcNode
      beforeAll(async () => { node = await startIpfsRpcNode() })
      afterAll(async () => { await node?.stop() })

      it('kubo', async () => {
        const cas = kuboCas({ url: node.url })
        await importPack(pack, cas, { concurrency: 8 })
        await expectIdentical(cas, ns, log.name, log.expected)
      })
    })
  })
})

describe('incremental packs', () => {
  it('a pack --since holds only what is newer; full + incremental restore the whole log', async () => {
    const cas = memoryCas()
    const names = memoryNs()
    const older = await mixedLog(cas, names, [['pointer', 300]], { pageEntries: 50, batch: 100 })
    const dir = await tempDir()
    await exportPack(join(dir, 'full.car'), { cas, head: older.writer.head! })
    await older.writer.append(['n0', 'n1', 'n2', 'n3', 'n4'].concat(Array.from({ length: 95 }, (_, i) => `late ${i}`)))
    await older.writer.publish()
    const later = await exportPack(join(dir, 'since.car'), { cas, head: older.writer.head!, since: 300 })

    const summary = await verifyPack(join(dir, 'since.car'))
    // Back to the page of seq 299: the head at the full backup, rewritten (filled) since.
    expect(summary).toMatchObject({ incremental: true, since: 300, length: 400, messages: 100, firstSeq: 250, payloads: 100 })
    expect(summary.continues).toBeDefined()
    expect(later.pages).toBe(3)

    const restored = memoryCas()
    await importPack(join(dir, 'full.car'), restored)
    expect(await restored.has(toCid(summary.continues!))).toBe(true) // the full pack holds the page it continues
    await importPack(join(dir, 'since.car'), restored)
    const messages = await readAll(restored, names, older.name)
    expect(messages.map(m => m.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i))
    expect(new TextDecoder().decode(messages[399].payload)).toBe('late 94')

    // Alone, the incremental pack serves a reader that already has everything before 300.
    const alone = memoryCas()
    await importPack(join(dir, 'since.car'), alone)
    const sync = new LogReader({ cas: alone, ns: names, name: older.name }).sync({ length: 300 })
    const newer = []
    for await (const m of sync.messages) newer.push(m.seq)
    expect(newer).toEqual(Array.from({ length: 100 }, (_, i) => 300 + i))
  })

  it('rejects a since past the log', async () => {
    const cas = memoryCas()
    const small = await mixedLog(cas, memoryNs(), [['inline', 10]])
    await expect(exportPack(join(await tempDir(), 'x.car'), { cas, head: small.writer.head!, since: 11 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })
})
