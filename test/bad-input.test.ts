import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { localNs } from '../adapters/ns/local.js'
import { LogReader, type Cursor, type Message } from '../core/reader.js'
import { LogWriter } from '../core/writer.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { encodePage, decodePage, PAGE_FORMAT, type Entry } from '../core/page.js'
import { cidOf, MAX_OBJECT_BYTES, sha256, verifyBytes } from '../core/ids.js'
import { encodePointer } from '../core/head-pointer.js'
import { keyPairFromSecret, signRecord } from '../core/signed-record.js'
import type { ContentStore } from '../core/content-store.js'
import type { NameSystem, OwnerKey } from '../core/name-system.js'
import { expectCode } from './conformance/cas.js'
import { tempDir } from './support/temp-dir.js'

const owner = (): OwnerKey => ({ label: 'alice', secret: randomBytes(32) })

function entries (from: number, count: number): Entry[] {
  return Array.from({ length: count }, (_, i) => {
    const data = new TextEncoder().encode(`m${from + i}`)
    return { seq: from + i, localHash: sha256(data), data }
  })
}

function page (firstSeq: number, count: number, tail?: CID, revision = 1): Uint8Array {
  return encodePage({ format: PAGE_FORMAT, firstSeq, entries: entries(firstSeq, count), tail, length: firstSeq + count, revision, scrubbed: [] })
}

/** Publishes `head` (already in the CAS) as the log's head, as a (possibly malicious) writer would. */
async function point (ns: NameSystem, key: OwnerKey, head: CID, length: number, revision = 1): Promise<string> {
  const name = await ns.nameOf(key)
  await ns.publish(name, { head, length, revision }, key)
  return name
}

/** Syncs and returns what was delivered before the error, and the error. */
async function syncExpectingError (cas: ContentStore, ns: NameSystem, name: string, cursor: Cursor = { length: 0 }): Promise<{ delivered: Message[], done: Promise<unknown> }> {
  const sync = new LogReader({ cas, ns, name }).sync(cursor)
  const delivered: Message[] = []
  try {
    for await (const m of sync.messages) delivered.push(m)
  } catch {}
  return { delivered, done: sync.done }
}

describe('a reader never trusts a store', () => {
  it('rejects a page whose bytes do not match its id (INTEGRITY) and delivers nothing', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const head = await cas.put(page(0, 5))
    const name = await point(ns, owner(), head, 5)
    cas.tamper(head, page(0, 5, undefined, 2))
    const { delivered, done } = await syncExpectingError(cas, ns, name)
    expect(delivered).toHaveLength(0)
    await expectCode(done, 'INTEGRITY')
  })

  it('rejects a payload whose bytes do not match its remoteHash, after delivering only what came before it', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const key = owner()
    const writer = await LogWriter.open({ cas, ns, owner: key, storage: memoryWriterStorage(), log: { mode: 'pointer', concurrency: 1 } })
    await writer.append(['p0', 'p1', 'p2', 'p3'])
    const result = await writer.publish()
    const head = decodePage(await cas.get(result!.head))
    cas.tamper(head.entries[2].remoteHash!, new TextEncoder().encode('forged'))
    const { delivered, done } = await syncExpectingError(cas, ns, writer.name)
    expect(delivered.map(m => m.seq)).toEqual([0, 1])
    await expectCode(done, 'INTEGRITY')
  })

  it('rejects a tail that leads back to a newer page (a cycle in sequence order)', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const newer = await cas.put(page(4, 4))
    const first = await cas.put(page(0, 4, newer))
    const head = await cas.put(page(4, 4, first))
    const name = await point(ns, owner(), head, 8)
    const { delivered, done } = await syncExpectingError(cas, ns, name)
    expect(delivered).toHaveLength(0)
    await expectCode(done, 'MALFORMED')
  })

  it('rejects pages whose sequences overlap or leave a gap', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const overlapping = await cas.put(page(0, 6))
    const head = await cas.put(page(4, 4, overlapping))
    const name = await point(ns, owner(), head, 8)
    const overlap = await syncExpectingError(cas, ns, name)
    expect(overlap.delivered).toHaveLength(0)
    await expect(overlap.done).rejects.toThrow(/overlaps/)

    const short = await cas.put(page(0, 2))
    const gapHead = await cas.put(page(4, 4, short))
    const gapName = await point(ns, owner(), gapHead, 8)
    await expect((await syncExpectingError(cas, ns, gapName)).done).rejects.toThrow(/gap/)
  })

  it('rejects a log that goes backwards past what was delivered (CONFLICT)', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const head = await cas.put(page(0, 5, undefined, 3))
    const name = await point(ns, owner(), head, 5, 3)
    const { done } = await syncExpectingError(cas, ns, name, { length: 10, head: cidOf(randomBytes(8)).toString(), revision: 4 })
    await expectCode(done, 'CONFLICT')
  })

  it('rejects an oversize page (TOO_LARGE) even from a store that accepted it', async () => {
    const big = encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: [{ seq: 0, localHash: sha256(new Uint8Array(1)), data: randomBytes(MAX_OBJECT_BYTES) }], length: 1, revision: 1, scrubbed: [] })
    const blocks = new Map<string, Uint8Array>()
    const lax: ContentStore = {
      backend: 'lax',
      capabilities: { delete: false },
      async put (bytes) { const id = cidOf(bytes); blocks.set(id.toString(), bytes); return id },
      async get (id) { return verifyBytes(id, blocks.get(id.toString())!) },
      async has (id) { return blocks.has(id.toString()) },
      async close () {}
    }
    const ns = memoryNs()
    const name = await point(ns, owner(), await lax.put(big), 1)
    const { delivered, done } = await syncExpectingError(lax, ns, name)
    expect(delivered).toHaveLength(0)
    await expectCode(done, 'TOO_LARGE')
  })

  it('rejects undecodable page bytes (MALFORMED)', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const name = await point(ns, owner(), await cas.put(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])), 1)
    await expectCode((await syncExpectingError(cas, ns, name)).done, 'MALFORMED')
  })

  it('fails on a missing page (NOT_FOUND) and delivers nothing', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const missing = cidOf(page(0, 4))
    const head = await cas.put(page(4, 4, missing))
    const name = await point(ns, owner(), head, 8)
    const { delivered, done } = await syncExpectingError(cas, ns, name)
    expect(delivered).toHaveLength(0)
    await expectCode(done, 'NOT_FOUND')
  })

  it('rejects an object over 1 MiB on append (TOO_LARGE) and journals nothing', async () => {
    const writer = await LogWriter.open({ cas: memoryCas(), ns: memoryNs(), owner: owner(), storage: memoryWriterStorage() })
    await expectCode(writer.append(['ok', randomBytes(MAX_OBJECT_BYTES + 1)]), 'TOO_LARGE')
    expect(writer.pendingCount).toBe(0)
  })
})

describe('a name system record is checked on publish and again on resolve', () => {
  it('rejects a forged record (signed by another key, or a bad signature)', async () => {
    const ns = memoryNs()
    const alice = owner()
    const name = await ns.nameOf(alice)
    const value = encodePointer({ head: cidOf(randomBytes(8)), length: 1, revision: 1 })
    const mallory = keyPairFromSecret(randomBytes(32))
    await expectCode(ns.acceptRecord(name, signRecord(name, 1, value, mallory)), 'PERMISSION')
    const good = signRecord(name, 1, value, keyPairFromSecret(alice.secret))
    const tampered = good.slice()
    tampered[tampered.length - 1] ^= 1
    await expectCode(ns.acceptRecord(name, tampered), 'INTEGRITY')
    await expectCode(ns.resolve(name), 'NOT_FOUND')
  })

  it('rejects a replayed record (sequence not above the current one)', async () => {
    const ns = memoryNs()
    const alice = owner()
    const name = await ns.nameOf(alice)
    const keys = keyPairFromSecret(alice.secret)
    const old = signRecord(name, 1, encodePointer({ head: cidOf(randomBytes(8)), length: 1, revision: 1 }), keys)
    await ns.acceptRecord(name, old)
    const newer = { head: cidOf(randomBytes(8)), length: 2, revision: 2 }
    await ns.acceptRecord(name, signRecord(name, 2, encodePointer(newer), keys))
    await expectCode(ns.acceptRecord(name, old), 'CONFLICT')
    expect((await ns.resolve(name)).head.equals(newer.head)).toBe(true)
  })

  it('rejects a rolled-back record on resolve (the store went back to an older signed record)', async () => {
    const dir = await tempDir()
    const alice = owner()
    const writerNs = localNs({ path: dir })
    const readerNs = localNs({ path: dir })
    const name = await writerNs.nameOf(alice)
    const first = { head: cidOf(randomBytes(8)), length: 1, revision: 1 }
    await writerNs.publish(name, first, alice)
    await copyFile(join(dir, `${name}.record`), join(dir, 'old.bak'))
    await writerNs.publish(name, { head: cidOf(randomBytes(8)), length: 2, revision: 2 }, alice, { previous: first.head })
    expect((await readerNs.resolve(name)).revision).toBe(2)
    await copyFile(join(dir, 'old.bak'), join(dir, `${name}.record`))
    await expectCode(readerNs.resolve(name), 'CONFLICT')
  })
})

describe('pages of another log', () => {
  it('a chain whose tail leads into another log is rejected (MALFORMED)', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const data = (i: number): Entry[] => entries(i, 4)
    const other = await cas.put(encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: data(0), length: 4, revision: 1, scrubbed: [], logId: Buffer.alloc(16, 2) }))
    const head = await cas.put(encodePage({ format: PAGE_FORMAT, firstSeq: 4, entries: data(4), tail: other, length: 8, revision: 1, scrubbed: [], logId: Buffer.alloc(16, 1) }))
    const name = await point(ns, owner(), head, 8)
    const { delivered, done } = await syncExpectingError(cas, ns, name)
    expect(delivered).toHaveLength(0)
    await expect(done).rejects.toThrow(/belongs to another log/)
  })
})
