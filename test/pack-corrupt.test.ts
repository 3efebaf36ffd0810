import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarIndexer } from '@ipld/car/indexer'
import { CarWriter } from '@ipld/car/writer'
import type { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { CID as CIDClass } from 'multiformats/cid'
import { beforeAll, describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { openEndpoint } from '../config/open-endpoint.js'
import { defaultConfig } from '../config/config.js'
import { exportPack } from '../core/pack-export.js'
import { importPack } from '../core/pack-import.js'
import { verifyPack } from '../core/pack-verify.js'
import { decodePage } from '../core/page.js'
import { mixedLog, type MixedLog } from './support/mixed-log.js'
import { tempDir } from './support/temp-dir.js'

/** Writes a CAR with the same roots as `source` and the blocks `keep` lets through. */
async function rewrite (source: string, target: string, keep: (block: { cid: CID, bytes: Uint8Array }, index: number) => boolean): Promise<void> {
  const car = await CarBlockIterator.fromBytes(await readFile(source))
  const { writer, out } = CarWriter.create(await car.getRoots())
  const chunks: Uint8Array[] = []
  const collecting = (async () => { for await (const c of out) chunks.push(c) })()
  let i = 0
  for await (const block of car) if (keep(block, i++)) await writer.put(block)
  await writer.close()
  await collecting
  await writeFile(target, Buffer.concat(chunks))
}

/** Byte offsets of each block's data in a CAR file, in order. */
async function blockOffsets (file: string): Promise<Array<{ cid: CID, blockOffset: number, blockLength: number }>> {
  const index = await CarIndexer.fromBytes(await readFile(file))
  const out = []
  for await (const entry of index) out.push(entry)
  return out
}

/** The pack's page CIDs and its other blocks' (payloads), in file order, without the manifest. */
async function pageIds (): Promise<{ pages: string[], others: string[] }> {
  const car = await CarBlockIterator.fromBytes(await readFile(pack))
  const pages: string[] = []
  const others: string[] = []
  let i = 0
  for await (const { cid, bytes } of car) {
    if (i++ === 0) continue
    let page = false
    try {
      page = decodePage(bytes).format === 1
    } catch { /* a payload */ }
    if (page) pages.push(cid.toString())
    else others.push(cid.toString())
  }
  return { pages, others }
}

let log: MixedLog
let pack: string
let dir: string

beforeAll(async () => {
  const cas = memoryCas()
  log = await mixedLog(cas, memoryNs(), [['inline', 300], ['pointer', 300]], { pageEntries: 50, batch: 100 })
  dir = await tempDir()
  pack = join(dir, 'good.car')
  await exportPack(pack, { cas, head: log.writer.head! })
})

/** A bad pack fails verify and import with `code` and a message matching `why`; the store gets nothing. */
async function expectRejected (file: string, code: string, why: RegExp): Promise<void> {
  await expect(verifyPack(file)).rejects.toMatchObject({ code, message: expect.stringMatching(why) })
  const cas = memoryCas()
  await expect(importPack(file, cas)).rejects.toMatchObject({ code, message: expect.stringMatching(why) })
  expect(cas.size).toBe(0)
  // Even without the verify pass, the head page (put last) never reaches the store.
  const unverified = memoryCas()
  await expect(importPack(file, unverified, { verifyFirst: false })).rejects.toMatchObject({ code })
  expect(await unverified.has(log.writer.head!)).toBe(false)
}

describe('bad packs fail verify and import with a clear error', () => {
  it('one flipped byte inside a block: INTEGRITY naming the block', async () => {
    const blocks = await blockOffsets(pack)
    const victim = blocks[Math.floor(blocks.length / 2)]
    const bytes = await readFile(pack)
    bytes[victim.blockOffset + Math.floor(victim.blockLength / 2)] ^= 0x01
    const file = join(dir, 'flipped.car')
    await writeFile(file, bytes)
    await expectRejected(file, 'INTEGRITY', new RegExp(`block #${Math.floor(blocks.length / 2)} does not hash to its CID ${victim.cid.toString()}`))
  })

  it('a pack truncated mid-block: MALFORMED, truncated', async () => {
    const bytes = await readFile(pack)
    const file = join(dir, 'truncated.car')
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)))
    await expectRejected(file, 'MALFORMED', /truncated/)
  })

  it('a pack cut at a block boundary: MALFORMED, the rest of the chain is missing', async () => {
    const blocks = await blockOffsets(pack)
    const cut = blocks[Math.floor(blocks.length / 2)]
    const file = join(dir, 'cut.car')
    await writeFile(file, (await readFile(pack)).subarray(0, cut.blockOffset + cut.blockLength))
    await expectRejected(file, 'MALFORMED', /is missing/)
  })

  it('a pack with a page (and its payloads) left out: MALFORMED naming the missing page', async () => {
    const { pages } = await pageIds()
    const missing = pages[Math.floor(pages.length / 2)]
    let dropping = false
    const file = join(dir, 'missing-page.car')
    await rewrite(pack, file, ({ cid }) => {
      if (cid.toString() === missing) dropping = true
      else if (pages.includes(cid.toString())) dropping = false
      return !dropping
    })
    await expectRejected(file, 'MALFORMED', new RegExp(`page ${missing} .* is missing`))
  })

  it('a payload left out: MALFORMED naming the payload and its entry', async () => {
    const payload = (await pageIds()).others[0]
    const file = join(dir, 'missing-payload.car')
    await rewrite(pack, file, ({ cid }) => cid.toString() !== payload)
    await expectRejected(file, 'MALFORMED', new RegExp(`payload ${payload} of entry \\d+ .*is missing`))
  })

  it('not a CAR, an empty file, a missing file, a CAR of something else', async () => {
    const garbage = join(dir, 'garbage.car')
    await writeFile(garbage, randomBytes(1000))
    await expect(verifyPack(garbage)).rejects.toMatchObject({ code: 'MALFORMED' })
    const empty = join(dir, 'empty.car')
    await writeFile(empty, new Uint8Array(0))
    await expect(verifyPack(empty)).rejects.toMatchObject({ code: 'MALFORMED' })
    await expect(verifyPack(join(dir, 'nope.car'))).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const node = dagCbor.encode({ hello: 'world' })
    const cid = CIDClass.createV1(dagCbor.code, await sha256.digest(node))
    const other = join(dir, 'other.car')
    const { writer, out } = CarWriter.create([cid])
    const chunks: Uint8Array[] = []
    const collecting = (async () => { for await (const c of out) chunks.push(c) })()
    await writer.put({ cid, bytes: node })
    await writer.close()
    await collecting
    await writeFile(other, Buffer.concat(chunks))
    await expect(verifyPack(other)).rejects.toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(/not a remotelog pack/) })
  })
})

describe('a failed import restores nothing', () => {
  it('a pack that changes between the verify pass and the store pass: INTEGRITY, no head stored', async () => {
    // Two payloads of one page swapped: still a valid pack, same roots and size, other block order.
    const { pages, others } = await pageIds()
    const car = await CarBlockIterator.fromBytes(await readFile(pack))
    const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
    for await (const block of car) blocks.push(block)
    const at = blocks.findIndex((b, i) => others.includes(b.cid.toString()) && others.includes(blocks[i + 1]?.cid.toString()))
    expect(at).toBeGreaterThan(0)
    expect(pages).not.toContain(blocks[at + 1].cid.toString())
    ;[blocks[at], blocks[at + 1]] = [blocks[at + 1], blocks[at]]
    const { writer, out } = CarWriter.create(await car.getRoots())
    const chunks: Uint8Array[] = []
    const collecting = (async () => { for await (const c of out) chunks.push(c) })()
    for (const block of blocks) await writer.put(block)
    await writer.close()
    await collecting
    const swapped = Buffer.concat(chunks)
    await expect(verifyPack(await (async () => { const f = join(dir, 'swapped.car'); await writeFile(f, swapped); return f })())).resolves.toMatchObject({ blocks: blocks.length })

    const file = join(dir, 'changing.car')
    await writeFile(file, await readFile(pack))
    const cas = memoryCas()
    let changed = false
    await expect(importPack(file, cas, {
      onProgress: p => {
        // The verify pass has read the whole (small) file when it reports its last block.
        if (p.phase === 'verify' && p.blocks === blocks.length && !changed) { changed = true; writeFileSync(file, swapped) }
      }
    })).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(/changed while it was imported/) })
    expect(changed).toBe(true)
    expect(await cas.has(log.writer.head!)).toBe(false)
  })

  it('a new device importing a corrupt pack with restore has no log afterwards', async () => {
    const root = await tempDir()
    const config = { ...defaultConfig(join(root, 'store')), log: { mode: 'pointer' as const, pageEntries: 20 } }
    const alice = await openEndpoint({ dir: join(root, 'alice'), config })
    const file = join(root, 'alice.car')
    let secret: Uint8Array
    try {
      await alice.append(Array.from({ length: 100 }, (_, i) => `a${i}`))
      await alice.publish()
      await alice.exportPack('log:default', file)
      secret = (await alice.owner()).secret
    } finally {
      await alice.close()
    }
    const bytes = await readFile(file)
    const broken = join(root, 'broken.car')
    await writeFile(broken, bytes.subarray(0, bytes.length - 10))

    // The new device: its own store and name system, the old device's key.
    const fresh = { ...defaultConfig(join(root, 'phone-store')), log: config.log }
    const phone = await openEndpoint({ dir: join(root, 'phone'), config: fresh })
    try {
      await expect(phone.importPack(broken, { restore: 'default', key: secret })).rejects.toMatchObject({ code: 'MALFORMED' })
      const writer = await phone.writer('default')
      expect(writer.head).toBeUndefined()
      expect(writer.length).toBe(0)
      await expect(phone.ns.resolve(writer.name)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    } finally {
      await phone.close()
    }
  })
})
