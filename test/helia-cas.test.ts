import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { casConformance, closedPort, expectCode } from './conformance/cas.js'
import { heliaCas, type HeliaContentStore } from '../adapters/cas/helia.js'
import { cidOf } from '../core/ids.js'
import { tempDir } from './support/temp-dir.js'

/** Writes `bytes` under `id` straight into the repo's blockstore, past the CAS (no pin, no checks). */
async function writeRaw (store: HeliaContentStore, id: CID, bytes: Uint8Array): Promise<void> {
  const raw = (store.helia.blockstore as unknown as { unwrap: () => { unwrap: () => { put: (id: CID, b: Uint8Array) => Promise<unknown> } } }).unwrap().unwrap()
  await raw.put(id, bytes)
}

casConformance('helia (offline)', {
  create: async () => await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() }),
  corrupt: async (store, id) => {
    const bytes = await store.get(id)
    const altered = Uint8Array.from(bytes)
    altered[0] ^= 0xff
    await writeRaw(store as HeliaContentStore, id, altered)
  },
  missingWithinMs: 1000,
  // Online, with its only peer down: nobody can be asked for a block the repo lacks.
  unreachable: async () => await online({ peers: [`/ip4/127.0.0.1/tcp/${await closedPort()}`] }),
  abort: true
})

async function online (options: Record<string, unknown> = {}): Promise<HeliaContentStore> {
  const store = await heliaCas({ repo: await tempDir(), offline: false, timeoutMs: 1500, ...options }, { stateDir: await tempDir() })
  return store
}

describe('helia CAS: pins, gc, repo', () => {
  it('keeps pinned blocks through gc and frees unpinned, deleted and cached ones', async () => {
    const store = await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() })
    try {
      const kept = await store.put(randomBytes(100))
      const unpinned = await store.put(randomBytes(100))
      const deleted = await store.put(randomBytes(100))
      const cachedBytes = randomBytes(100)
      const cached = cidOf(cachedBytes)
      await writeRaw(store, cached, cachedBytes) // as a block fetched from a peer without pinning
      expect(await store.isPinned(kept)).toBe(true)
      expect(await store.isPinned(cached)).toBe(false)
      await store.unpin(unpinned)
      expect(await store.isPinned(unpinned)).toBe(false)
      expect(await store.has(unpinned)).toBe(true) // unpinning alone frees nothing
      await store.delete(deleted)
      expect(await store.has(deleted)).toBe(false)

      expect(await store.gc()).toBe(2)
      expect(await store.has(kept)).toBe(true)
      expect(await store.isPinned(kept)).toBe(true)
      expect(await store.get(kept)).toHaveLength(100)
      expect(await store.has(unpinned)).toBe(false)
      expect(await store.has(cached)).toBe(false)
      await expectCode(store.get(unpinned), 'NOT_FOUND')
      expect(await store.gc()).toBe(0)
    } finally {
      await store.close()
    }
  })

  it('keeps blocks and pins in the repo across restarts', async () => {
    const repo = await tempDir()
    const bytes = randomBytes(300)
    const first = await heliaCas({ repo }, { stateDir: repo })
    const id = await first.put(bytes)
    await first.close()
    const second = await heliaCas({ repo }, { stateDir: repo })
    try {
      expect(Buffer.from(await second.get(id)).equals(bytes)).toBe(true)
      expect(await second.gc()).toBe(0)
      expect(await second.has(id)).toBe(true)
    } finally {
      await second.close()
    }
  })

  it('defaults its repo to <stateDir>/ipfs and refuses a repo already in use', async () => {
    const stateDir = await tempDir()
    const store = await heliaCas({}, { stateDir })
    try {
      await expectCode(heliaCas({ repo: `${stateDir}/ipfs` }, { stateDir }), 'UNAVAILABLE')
    } finally {
      await store.close()
    }
  })

  it('rejects bad configuration with INVALID_CONFIG', async () => {
    const stateDir = await tempDir()
    await expectCode(heliaCas({ peers: ['not a multiaddr'] }, { stateDir }), 'INVALID_CONFIG')
    await expectCode(heliaCas({ timeoutMs: -1 }, { stateDir }), 'INVALID_CONFIG')
    await expectCode(heliaCas({ offline: 'no' } as never, { stateDir }), 'INVALID_CONFIG')
    await expectCode(heliaCas({ listen: '/ip4/127.0.0.1/tcp/0' } as never, { stateDir }), 'INVALID_CONFIG')
  })
})

describe('helia CAS: bitswap between nodes on 127.0.0.1', () => {
  it('fetches blocks it lacks from a dialed peer, pins them with pinOnGet, and serves them on after the writer stops', async () => {
    const alice = await online()
    const bob = await online({ peers: alice.multiaddrs(), pinOnGet: true })
    let carol: HeliaContentStore | undefined
    try {
      expect(alice.multiaddrs()[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/)
      const items = Array.from({ length: 50 }, () => randomBytes(200))
      const ids = await Promise.all(items.map(async b => await alice.put(b)))
      expect(await bob.has(ids[0])).toBe(false)
      const got = await Promise.all(ids.map(async id => await bob.get(id)))
      expect(bob.connectedPeers()).toEqual([alice.peerId])
      got.forEach((b, i) => expect(Buffer.from(b).equals(items[i])).toBe(true))
      expect(await bob.has(ids[0])).toBe(true)
      expect(await bob.isPinned(ids[0])).toBe(true)

      await alice.close()
      // the peer address may omit /p2p/<id>
      carol = await online({ peers: [bob.multiaddrs()[0].replace(/\/p2p\/.*$/, '')] })
      const back = await Promise.all(ids.map(async id => await carol!.get(id)))
      back.forEach((b, i) => expect(Buffer.from(b).equals(items[i])).toBe(true))
      expect(await carol.isPinned(ids[0])).toBe(false) // carol does not pin what she reads
    } finally {
      await Promise.all([alice.close(), bob.close(), carol?.close()])
    }
  })

  // Connected peers that lack a block stay silent: that is no answer that it does not exist.
  it('bounds a get of a block no peer has by timeoutMs, with TIMEOUT (not NOT_FOUND)', async () => {
    const alice = await online()
    const bob = await online({ peers: alice.multiaddrs(), timeoutMs: 400 })
    try {
      const started = Date.now()
      const error = await bob.get(cidOf(randomBytes(32))).catch((e: unknown) => e)
      await expectCode(Promise.reject(error), 'TIMEOUT')
      expect(String(error)).toContain('1 connected peer(s)')
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      await Promise.all([alice.close(), bob.close()])
    }
  })

  it('fails at once with UNAVAILABLE naming the peer when no peer is reachable', async () => {
    const gone = await online()
    const address = gone.multiaddrs()[0]
    await gone.close()
    const bob = await online({ peers: [address] })
    try {
      const started = Date.now()
      const error = await bob.get(cidOf(randomBytes(32))).catch((e: unknown) => e)
      await expectCode(Promise.reject(error), 'UNAVAILABLE')
      expect(String(error)).toContain(address)
      expect(Date.now() - started).toBeLessThan(1500) // before timeoutMs: there is nobody to ask
    } finally {
      await bob.close()
    }
  })

  it('online with no peer at all is UNAVAILABLE; offline, the repo\'s own answer is NOT_FOUND', async () => {
    const lonely = await online()
    const offline = await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() })
    try {
      const error = await lonely.get(cidOf(randomBytes(32))).catch((e: unknown) => e)
      await expectCode(Promise.reject(error), 'UNAVAILABLE')
      expect(String(error)).toContain('no peers configured')
      await expectCode(offline.get(cidOf(randomBytes(32))), 'NOT_FOUND')
    } finally {
      await Promise.all([lonely.close(), offline.close()])
    }
  })

  // Helia checks each block a peer sends against its id and drops a mismatch, so the read runs out of time.
  it('never returns altered bytes that a peer sends: the read ends TIMEOUT', async () => {
    const alice = await online()
    const bob = await online({ peers: alice.multiaddrs(), timeoutMs: 800 })
    try {
      const bytes = randomBytes(200)
      const id = await alice.put(bytes)
      const altered = Uint8Array.from(bytes)
      altered[0] ^= 0xff
      await writeRaw(alice, id, altered)
      await expectCode(bob.get(id), 'TIMEOUT')
      expect(await bob.has(id)).toBe(false)
    } finally {
      await Promise.all([alice.close(), bob.close()])
    }
  })

  it('reads its own blocks without asking peers while connected, and an altered one is an INTEGRITY error at once', async () => {
    const alice = await online()
    const bob = await online({ peers: alice.multiaddrs(), timeoutMs: 5000 })
    try {
      await bob.dial(alice.multiaddrs()[0])
      const bytes = randomBytes(200)
      const id = await bob.put(bytes)
      expect(Buffer.from(await bob.get(id))).toEqual(bytes)
      const altered = Uint8Array.from(bytes)
      altered[0] ^= 0xff
      await writeRaw(bob, id, altered)
      const started = Date.now()
      await expectCode(bob.get(id), 'INTEGRITY')
      expect(Date.now() - started).toBeLessThan(1000) // not after timeoutMs: the repo answered
      expect(bob.connectedPeers()).toEqual([alice.peerId])
    } finally {
      await Promise.all([alice.close(), bob.close()])
    }
  })
})


describe('helia CAS: closing', () => {
  it('ends a network fetch in flight at close (UNAVAILABLE) instead of waiting out its timeout', async () => {
    const alice = await online()
    const bob = await online({ peers: alice.multiaddrs(), timeoutMs: 30_000 })
    try {
      await bob.get(await alice.put(randomBytes(10))) // connected
      const pending = bob.get(cidOf(randomBytes(32))).then(() => undefined, (e: unknown) => e)
      await new Promise(resolve => setTimeout(resolve, 100))
      const started = Date.now()
      await bob.close()
      await expectCode(pending.then(e => { throw e }), 'UNAVAILABLE')
      expect(Date.now() - started).toBeLessThan(5000)
      await expectCode(bob.get(cidOf(randomBytes(32))), 'UNAVAILABLE')
    } finally {
      await Promise.all([alice.close(), bob.close()])
    }
  })
})

describe('a writer on helia releases the head pages it replaced', () => {
  it('unpins them (peers can still fetch them until gc), and gc frees them; the log stays whole', async () => {
    const { LogWriter } = await import('../core/writer.js')
    const { LogReader } = await import('../core/reader.js')
    const { memoryWriterStorage } = await import('../core/writer-storage.js')
    const { memoryNs } = await import('../adapters/ns/memory.js')
    const store = await heliaCas({ repo: await tempDir() }, { stateDir: await tempDir() })
    try {
      const ns = memoryNs()
      const writer = await LogWriter.open({ cas: store, ns, owner: { label: 'a', secret: randomBytes(32) }, storage: memoryWriterStorage() })
      await writer.append(['one'])
      const first = (await writer.publish())!.head
      await writer.append(['two'])
      await writer.publish()
      expect(await store.isPinned(first)).toBe(false)
      expect(await store.has(first)).toBe(true)
      await store.gc()
      expect(await store.has(first)).toBe(false)
      const sync = new LogReader({ cas: store, ns, name: writer.name }).sync({ length: 0 })
      const texts: string[] = []
      for await (const m of sync.messages) texts.push(new TextDecoder().decode(m.payload))
      expect(texts).toEqual(['one', 'two'])
    } finally {
      await store.close()
    }
  })
})
