import { randomBytes } from 'node:crypto'
import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CarWriter } from '@ipld/car/writer'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import { beforeAll, describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { cidOf, MAX_OBJECT_BYTES } from '../core/ids.js'
import { exportPack } from '../core/pack-export.js'
import { importPack } from '../core/pack-import.js'
import { verifyPack } from '../core/pack-verify.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'
import { tempDir } from './support/temp-dir.js'

const HUGE = 200 * 1024 * 1024

/** The bytes of a CAR with these roots and blocks. */
async function car (roots: CID[], blocks: Array<{ cid: CID, bytes: Uint8Array }> = []): Promise<Buffer> {
  const { writer, out } = CarWriter.create(roots)
  const chunks: Uint8Array[] = []
  const collecting = (async () => { for await (const c of out) chunks.push(c) })()
  for (const block of blocks) await writer.put(block)
  await writer.close()
  await collecting
  return Buffer.concat(chunks)
}

/** A section header claiming a block of `size` bytes: the length varint, then the CID. */
function sectionHead (cid: CID, size: number): Buffer {
  return Buffer.concat([varint.encodeTo(cid.bytes.byteLength + size, new Uint8Array(varint.encodingLength(cid.bytes.byteLength + size))), cid.bytes])
}

/** Appends a section declaring `size` bytes to `file`, followed by `size` zeros (sparse: no disk used). */
async function appendHugeSection (file: string, size = HUGE): Promise<void> {
  await appendFile(file, sectionHead(cidOf(new Uint8Array([1])), size))
  await truncate(file, (await stat(file)).size + size)
}

/** verifyPack and importPack (with and without the verify pass) all refuse `file` with TOO_LARGE, storing nothing. */
async function expectTooLarge (file: string, why = /declares a \d+-byte section, over the 1048576-byte block limit/): Promise<void> {
  await expect(verifyPack(file)).rejects.toMatchObject({ code: 'TOO_LARGE', message: expect.stringMatching(why) })
  const cas = memoryCas()
  await expect(importPack(file, cas)).rejects.toMatchObject({ code: 'TOO_LARGE', message: expect.stringMatching(why) })
  expect(cas.size).toBe(0)
}

let dir: string
let good: string
beforeAll(async () => {
  dir = await tempDir()
  const cas = memoryCas()
  const writer = await LogWriter.open({ cas, ns: memoryNs(), owner: { label: 'a', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode: 'pointer', pageEntries: 4 } })
  await writer.append(Array.from({ length: 10 }, (_, i) => `m${i}`))
  await writer.publish()
  good = join(dir, 'good.car')
  await exportPack(good, { cas, head: writer.head! })
})

describe('a pack with a block over the 1 MiB limit', () => {
  it('is refused (TOO_LARGE) from its section header, without reading the 200 MB block into memory', async () => {
    const file = join(dir, 'huge-first.car')
    await writeFile(file, await car([cidOf(new Uint8Array([2]))]))
    await appendHugeSection(file)
    const before = process.resourceUsage().maxRSS
    await expectTooLarge(file)
    const cas = memoryCas()
    await expect(importPack(file, cas, { verifyFirst: false })).rejects.toMatchObject({ code: 'TOO_LARGE' })
    expect(cas.size).toBe(0)
    // Peak resident memory of this process (KiB) did not grow by anything like the block's size.
    expect((process.resourceUsage().maxRSS - before) / 1024).toBeLessThan(100)
  })

  it('is refused the same when the file ends right after the section header (the length alone decides)', async () => {
    const file = join(dir, 'huge-truncated.car')
    await writeFile(file, Buffer.concat([await car([cidOf(new Uint8Array([2]))]), sectionHead(cidOf(new Uint8Array([1])), HUGE)]))
    await expectTooLarge(file)
  })

  it('is refused after the good blocks of an otherwise valid pack, and import stores nothing', async () => {
    const file = join(dir, 'good-then-huge.car')
    await writeFile(file, await readFile(good))
    await verifyPack(file)
    await appendHugeSection(file)
    await expectTooLarge(file)
  })

  it('a block of 1 MiB + 1 byte is TOO_LARGE; one of exactly 1 MiB is read (and then judged as a block)', async () => {
    const over = new Uint8Array(MAX_OBJECT_BYTES + 1)
    const overFile = join(dir, 'over.car')
    await writeFile(overFile, await car([cidOf(over)], [{ cid: cidOf(over), bytes: over }]))
    await expectTooLarge(overFile, /is 1048577 bytes, over the 1048576-byte block limit/)

    const max = new Uint8Array(MAX_OBJECT_BYTES)
    const maxFile = join(dir, 'max.car')
    await writeFile(maxFile, await car([cidOf(max)], [{ cid: cidOf(max), bytes: max }]))
    await expect(verifyPack(maxFile)).rejects.toMatchObject({ code: 'MALFORMED' })
  })
})
