import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { heliaCas } from '../adapters/cas/helia.js'
import { kuboCas } from '../adapters/cas/kubo.js'
import { localCas } from '../adapters/cas/local.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import type { ContentStore } from '../core/content-store.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem } from '../core/name-system.js'
import { scrub } from '../core/scrub.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { readAll } from './support/mixed-log.js'
import { tempDir } from './support/temp-dir.js'

const SHARED = new TextEncoder().encode('the same photo, forwarded to two groups')
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

async function writer (cas: ContentStore, ns: NameSystem, label: string, payloads: Uint8Array[]): Promise<LogWriter> {
  const w = await LogWriter.open({ cas, ns, owner: { label, secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode: 'pointer' } })
  await w.append(payloads.map(payload => ({ payload })))
  await w.publish()
  return w
}

/** Two logs in one store, as two endpoints (two processes for `local`) using the default store. */
const stores: Record<string, () => Promise<[ContentStore, ContentStore, ContentStore]>> = {
  memory: async () => { const cas = memoryCas(); return [cas, cas, cas] },
  'local, one folder opened by each endpoint': async () => {
    const path = await tempDir()
    return await Promise.all([localCas({ path }), localCas({ path }), localCas({ path })])
  },
  'helia, one repo': async () => {
    const cas = await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() })
    closeAfter.push(cas)
    return [cas, cas, cas]
  },
  'kubo, one RPC node with a client per endpoint': async () => {
    rpc ??= await startIpfsRpcNode()
    const url = rpc.url
    return [kuboCas({ url, timeoutMs: 2000 }), kuboCas({ url, timeoutMs: 2000 }), kuboCas({ url, timeoutMs: 2000 })]
  }
}

let rpc: IpfsRpcNode | undefined
const closeAfter: ContentStore[] = []
afterAll(async () => {
  await Promise.all(closeAfter.map(async cas => { await cas.close() }))
  await rpc?.stop()
})

describe.each(Object.entries(stores))('scrub in a store other logs share (%s)', (_name, open) => {
  it('keeps a payload another log still uses, and deletes it once no log does', async () => {
    const [aliceCas, bobCas, readerCas] = await open()
    const ns = memoryNs()
    const alice = await writer(aliceCas, ns, 'alice', [text('a0'), SHARED, text('a2')])
    const bob = await writer(bobCas, ns, 'bob', [SHARED, text('b1')])

    const first = await scrub(alice, [1, 2])
    expect(first.kept).toEqual([cidOf(SHARED).toString()])
    expect(first.deleted).toEqual([cidOf(text('a2')).toString()])
    const bobs = await readAll(readerCas, ns, bob.name) // a reader who never saw bob's log: nothing lost
    expect(bobs.map(m => Buffer.from(m.payload!).toString())).toEqual([Buffer.from(SHARED).toString(), 'b1'])

    const second = await scrub(bob, [0])
    expect(second).toMatchObject({ kept: [], deleted: [cidOf(SHARED).toString()] })
    expect(await readerCas.has(cidOf(SHARED))).toBe(false)
  })

  it('deletes nothing another log may use when that log\'s chain cannot be read', async () => {
    const [aliceCas, , readerCas] = await open()
    const ns = memoryNs()
    const alice = await writer(aliceCas, ns, 'alice', [text('a0'), text('a1')])
    await aliceCas.heads!.record('ab'.repeat(16), cidOf(text('a head page that is not in the store')))
    const result = await scrub(alice, [1])
    expect(result).toMatchObject({ scrubbed: [1], kept: [cidOf(text('a1')).toString()], deleted: [] })
    expect(await readerCas.has(cidOf(text('a1')))).toBe(true)
    const messages = await readAll(readerCas, ns, alice.name)
    expect(messages.map(m => m.tombstone)).toEqual([false, true]) // the entry itself is scrubbed all the same
  })
})

describe('which logs record their head in the store', () => {
  it('pointer logs, and inline logs once a payload too large for a page went into the store', async () => {
    const cas = memoryCas()
    const ns = memoryNs()
    const open = async (label: string, mode: 'inline' | 'pointer'): Promise<LogWriter> =>
      await LogWriter.open({ cas, ns, owner: { label, secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode, pageBytes: 4096 } })
    const small = await open('small', 'inline')
    const large = await open('large', 'inline')
    const pointer = await open('pointer', 'pointer')
    await small.append([{ payload: text('fits in its page') }])
    await large.append([{ payload: randomBytes(5000) }])
    await pointer.append([{ payload: text('p') }])
    for (const w of [small, large, pointer]) await w.publish()
    const recorded = new Map((await cas.heads!.list()).map(h => [h.logId, h.head.toString()]))
    expect(recorded.has(small.logId)).toBe(false) // its pages are its own: no other log can share them
    expect(recorded.get(large.logId)).toBe(large.head?.toString())
    expect(recorded.get(pointer.logId)).toBe(pointer.head?.toString())
  })
})
