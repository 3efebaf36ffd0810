import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { nsConformance } from './conformance/ns.js'
import { expectCode } from './conformance/cas.js'
import { hypercoreNs } from '../adapters/ns/hypercore.js'
import { coreKeyOf, hypercoreKeyPair, manifestOf, nameOfCoreKey } from '../adapters/ns/hypercore-keys.js'
import { networkSettings } from '../adapters/ns/hypercore-options.js'
import { openPeer } from '../adapters/ns/hypercore-peer.js'
import { seederOptionsFrom, startSeeder } from '../adapters/ns/hypercore-seeder.js'
import { openNs } from '../adapters/registry.js'
import { isRemoteLogError } from '../core/errors.js'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf } from '../core/ids.js'
import type { HeadRecord, NameSystem, OwnerKey, ResolvedHead } from '../core/name-system.js'
import { startHypercoreTestnet, type HypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { tempDir } from './support/temp-dir.js'

const TIMEOUT_MS = 5000
let testnet: HypercoreTestnet
beforeAll(async () => { testnet = await startHypercoreTestnet() })
afterAll(async () => { await testnet?.stop() })

const storageOf = new WeakMap<NameSystem, string>()
/** A name system on its own storage folder (a peer), closed when the test ends unless `keep`. */
async function open (storage?: string, timeoutMs = TIMEOUT_MS): Promise<NameSystem> {
  storage ??= await tempDir('remotelog-hypercore-')
  const ns = await hypercoreNs({ storage, bootstrap: testnet.bootstrap, timeoutMs })
  storageOf.set(ns, storage)
  return ns
}
async function peerNs (timeoutMs = TIMEOUT_MS): Promise<NameSystem> {
  const ns = await open(undefined, timeoutMs)
  onTestFinished(async () => { await ns.close() })
  return ns
}

nsConformance('hypercore', {
  create: async () => await open(),
  reopen: async (ns) => {
    await ns.close()
    return await open(storageOf.get(ns))
  },
  // Two storages holding one key can both append: the feed forks, and readers report equivocation.
  atomicAcrossClients: false,
  // No peer holds the core, so none can say that nothing was published.
  unpublishedCode: 'UNAVAILABLE'
})

const owner = (): OwnerKey => ({ label: 'alice', secret: randomBytes(32) })
const record = (revision: number): HeadRecord => ({ head: cidOf(randomBytes(16)), length: revision * 10, revision })

/** A misbehaving owner: writes head records to the core directly, so it can truncate or fork it. */
async function rawWriter (key: OwnerKey): Promise<{ id: string, append: (r: HeadRecord) => Promise<void>, truncate: (n: number) => Promise<void>, close: () => Promise<void> }> {
  const peer = await openPeer(await tempDir('remotelog-raw-'), networkSettings({ bootstrap: testnet.bootstrap }))
  const keyPair = hypercoreKeyPair(key)
  const core = peer.store.get({ keyPair, manifest: manifestOf(keyPair) })
  await core.ready()
  await peer.join(core, { server: true, client: false }).flushed()
  onTestFinished(async () => { await peer.close() })
  return {
    id: core.id,
    append: async (r) => { await core.append(Buffer.from(encodePointer(r))) },
    truncate: async (n) => { await core.truncate(n) },
    close: async () => { await peer.close() }
  }
}

async function resolveUntil (ns: NameSystem, name: string, accept: (head: ResolvedHead) => boolean): Promise<ResolvedHead> {
  for (let i = 0; ; i++) {
    const head = await ns.resolve(name).catch(e => { if (i > 100) throw e })
    if (head !== undefined && accept(head)) return head
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Resolves until it fails with `code` (a change takes a moment to reach a reader). */
async function errorOf (ns: NameSystem, name: string, code: string): Promise<Error> {
  for (let i = 0; i < 100; i++) {
    try {
      await ns.resolve(name)
    } catch (e) {
      if (isRemoteLogError(e, code as never)) return e
    }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`resolve never failed with ${code}`)
}

describe('hypercore configuration and names', () => {
  it('refuses to start without an explicit bootstrap list (never the public DHT)', async () => {
    const storage = await tempDir()
    await expectCode(hypercoreNs({ storage } as never), 'INVALID_CONFIG')
    await expectCode(hypercoreNs({ storage, bootstrap: [] }), 'INVALID_CONFIG')
    await expectCode(hypercoreNs({ storage, bootstrap: ['nonsense'] }), 'INVALID_CONFIG')
    await expectCode(hypercoreNs({ storage, bootstrap: testnet.bootstrap, timeoutMs: -1 }), 'INVALID_CONFIG')
  })

  it('opens through the registry, storing cores in <stateDir>/hypercore, with "host:port" bootstrap entries', async () => {
    const stateDir = await tempDir()
    const bootstrap = testnet.bootstrap.map(({ host, port }) => `${host}:${port}`)
    const ns = await openNs({ driver: 'hypercore', bootstrap, timeoutMs: TIMEOUT_MS }, { stateDir })
    onTestFinished(async () => { await ns.close() })
    expect(ns.scheme).toBe('hypercore')
    const alice = owner()
    const name = await ns.nameOf(alice)
    await ns.publish(name, record(1), alice)
    await expectCode(hypercoreNs({ bootstrap, storage: `${stateDir}/hypercore` }), 'UNAVAILABLE') // folder locked by `ns`
  })

  it('names a log by its core key in z-base-32, derived from the owner secret alone', async () => {
    const alice = owner()
    const a = await peerNs()
    const b = await peerNs()
    const name = await a.nameOf(alice)
    expect(name).toMatch(/^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
    expect(await b.nameOf({ label: 'renamed', secret: alice.secret })).toBe(name)
    expect(name).toBe(nameOfCoreKey(coreKeyOf(hypercoreKeyPair(alice))))
    expect((await rawWriter(alice)).id).toBe(name) // the id Hypercore itself shows for the core
    await expectCode(a.resolve('not-a-key'), 'INVALID_INPUT')
    await expectCode(a.resolve(undefined as never), 'INVALID_INPUT')
    await expectCode(a.publish('hypercore:' + name, record(1), alice), 'INVALID_INPUT')
    await expectCode(a.publish(name, { ...record(1), head: 'nonsense' as never }, alice), 'INVALID_INPUT')
    await expectCode(a.publish(name, { ...record(1), revision: -1 }, alice), 'INVALID_INPUT')
    await expectCode(a.publish(name, record(1), { label: 'alice', secret: new Uint8Array(3) }), 'INVALID_INPUT')
    await expectCode(a.resolve(name), 'NOT_FOUND') // nothing was published by the bad calls (the raw writer's empty core answers)
  })
})

describe('hypercore between peers', () => {
  it('a reader on another peer resolves, and cannot publish to the name (PERMISSION)', async () => {
    const alice = owner()
    const writer = await peerNs()
    const reader = await peerNs()
    const name = await writer.nameOf(alice)
    const first = record(1)
    await writer.publish(name, first, alice)
    expect((await reader.resolve(name)).head.toString()).toBe(first.head.toString())
    await expectCode(reader.publish(name, record(2), owner(), { previous: first.head }), 'PERMISSION')
    const second = record(2)
    await writer.publish(name, second, alice, { previous: first.head })
    const got = await resolveUntil(reader, name, h => h.revision === 2)
    expect(got).toMatchObject({ length: 20, revision: 2 })
    expect(got.head.toString()).toBe(second.head.toString())
  })

  it('a restarted writer serves its log again before its next publish', async () => {
    const alice = owner()
    const storage = await tempDir('remotelog-hypercore-')
    const first = record(1)
    const writer = await open(storage)
    const name = await writer.nameOf(alice)
    await writer.publish(name, first, alice)
    await writer.close()
    const restarted = await open(storage)
    onTestFinished(async () => { await restarted.close() })
    const reader = await peerNs()
    expect((await resolveUntil(reader, name, () => true)).head.toString()).toBe(first.head.toString())
  })

  it('a remote watcher receives each new head as the writer appends', async () => {
    const alice = owner()
    const writer = await peerNs()
    const reader = await peerNs()
    const name = await writer.nameOf(alice)
    const records = Array.from({ length: 6 }, (_, i) => record(i + 1))
    await writer.publish(name, records[0], alice)
    const controller = new AbortController()
    const seen: number[] = []
    let ready!: () => void
    const started = new Promise<void>(resolve => { ready = resolve })
    const watching = (async () => {
      for await (const head of reader.watch!(name, { signal: controller.signal })) {
        seen.push(head.revision!)
        if (head.revision === 1) ready()
        if (head.revision === records.length) controller.abort()
      }
    })()
    await started
    for (let i = 1; i < records.length; i++) {
      await writer.publish(name, records[i], alice, { previous: records[i - 1].head })
      await new Promise(resolve => setTimeout(resolve, 30))
    }
    await watching
    expect(seen).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('a cold reader gets NOT_FOUND only when a peer answered that the core is empty; UNAVAILABLE, bounded, when none answered', async () => {
    const reader = await peerNs(1500)
    const nobody = await reader.nameOf(owner())
    const unserved = await reader.resolve(nobody).catch(e => e)
    expect(unserved).toMatchObject({ code: 'UNAVAILABLE', details: { peers: 0, answered: 0 } })
    expect(String(unserved.message)).toMatch(/no peer answered .*none found on the DHT/)

    // A seeder holds the (empty) core: it answers, so "nothing published yet" is known.
    const seeder = await startSeeder({ storage: await tempDir('remotelog-seeder-'), bootstrap: testnet.bootstrap, timeoutMs: 1500, keys: [nobody] })
    onTestFinished(async () => { await seeder.close() })
    expect(await seeder.seed(nobody)).toMatchObject({ length: 0, hasHead: false })
    const answered = await peerNs(TIMEOUT_MS)
    const empty = await answered.resolve(nobody).catch(e => e)
    expect(empty).toMatchObject({ code: 'NOT_FOUND', details: { answered: 1 } })

    const socket = createSocket('udp4')
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
    const deadPort = socket.address().port
    socket.close()
    const isolated = await hypercoreNs({ storage: await tempDir(), bootstrap: [{ host: '127.0.0.1', port: deadPort }], timeoutMs: 1500 })
    onTestFinished(async () => { await isolated.close() })
    const start = performance.now()
    await expectCode(isolated.resolve(await isolated.nameOf(owner())), 'UNAVAILABLE')
    expect(performance.now() - start).toBeLessThan(1500 + 3000) // returns at its timeout, never hangs
  })

  it('a reader resolves through the seeder while the writer is offline; the seeder resumes after a restart', async () => {
    const alice = owner()
    const writer = await open()
    onTestFinished(async () => { await writer.close() })
    const name = await writer.nameOf(alice)
    const first = record(1)
    const second = record(2)
    await writer.publish(name, first, alice)
    const storage = await tempDir('remotelog-seeder-')
    const settings = { driver: 'hypercore', bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS, seederStorage: storage }
    let seeder = await startSeeder(seederOptionsFrom(settings, '/unused', [`hypercore:${name}`]))
    onTestFinished(async () => { await seeder.close() })
    await writer.publish(name, second, alice, { previous: first.head })
    expect(await seeder.seed(name)).toMatchObject({ name, length: 2, hasHead: true })
    expect(seeder.seeding()).toEqual([name])
    await writer.close()

    const reader = await peerNs()
    const got = await reader.resolve(name)
    expect(got.head.toString()).toBe(second.head.toString())

    await seeder.close()
    seeder = await startSeeder({ storage, bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS }) // no keys: resumes what it seeded
    const cold = await peerNs()
    expect((await resolveUntil(cold, name, () => true)).revision).toBe(2)
    expect(seeder.seeding()).toEqual([name])
    await seeder.unseed(name)
    expect(seeder.seeding()).toEqual([])
  })
})

describe('hypercore rollback policy', () => {
  it('reports a truncated core as CONFLICT, keeps what it had (also after a restart), and moves on only forward', async () => {
    const alice = owner()
    const raw = await rawWriter(alice)
    for (let revision = 1; revision <= 3; revision++) await raw.append(record(revision))
    let reader = await open()
    onTestFinished(async () => { await reader.close() })
    const name = await reader.nameOf(alice)
    expect((await reader.resolve(name)).revision).toBe(3)

    await raw.truncate(2) // the newest block is now revision 2
    const error = await errorOf(reader, name, 'CONFLICT')
    expect(error).toMatchObject({ backend: 'hypercore' })
    expect(String(error.message)).toMatch(/went back from revision 3 to 2/)

    await reader.close()
    reader = await open(storageOf.get(reader))
    await expectCode(reader.resolve(name), 'CONFLICT')

    const fourth = record(4)
    await raw.append(fourth)
    const got = await resolveUntil(reader, name, h => h.revision === 4)
    expect(got.head.toString()).toBe(fourth.head.toString())
  })

  it('reports equivocation (two conflicting signed heads) as CONFLICT', async () => {
    const alice = owner()
    const honest = await rawWriter(alice)
    await honest.append(record(1))
    let reader = await open()
    onTestFinished(async () => { await reader.close() })
    const name = await reader.nameOf(alice)
    expect((await reader.resolve(name)).revision).toBe(1)
    await honest.close()

    const forked = await rawWriter(alice) // same key, other history
    await forked.append(record(5))
    await forked.append(record(6))
    const error = await errorOf(reader, name, 'CONFLICT')
    expect(String(error.message)).toMatch(/equivocating/)
    await forked.close()

    // Hypercore reopens such a core as if nothing happened; the reader remembers.
    await reader.close()
    reader = await open(storageOf.get(reader))
    await expect(reader.resolve(name)).rejects.toThrow(/equivocating/)
  })
})
