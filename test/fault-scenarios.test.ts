import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { allOf, measureOutage } from '../compare/outage.js'
import type { Config } from '../config/config.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Endpoint } from '../core/endpoint.js'
import { isRemoteLogError } from '../core/errors.js'
import { startEnsDevnet } from '../devnet/ens-devnet.js'
import { startIpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { remoteConfig } from '../service/remote-config.js'
import { startFaultProxy, type FaultProxy } from '../compare/fault-proxy.js'
import { tempDir } from './support/temp-dir.js'

/*
 * Network faults between endpoints and the networked backends the devnet starts, each behind a
 * fault proxy: the remote log service (CAS and NS over Twirp), and ENS on a Hardhat node (its
 * JSON-RPC port) with the IPFS node's RPC API as CAS. Every scenario ends with the reader holding
 * each message exactly once, in order.
 */

interface Backends {
  /** Config of an endpoint using the backends through the proxies. */
  config: (name: string) => Config
  proxies: FaultProxy[]
  /** A pattern of the request that moves the name (its response is the one to cut). */
  nameUpdate: RegExp
  /** A pattern of a CAS read. */
  casRead: RegExp
  stop: () => Promise<void>
}

const log = { mode: 'pointer' as const, pageEntries: 64 }

async function serviceBackends (): Promise<Backends> {
  const service = await startRemoteLogService({ dir: await tempDir() })
  const proxy = await startFaultProxy({ target: service.url })
  return {
    config: (name) => ({ name, ...remoteConfig(proxy.url, { timeoutMs: 2000, retries: 1 }), log }),
    proxies: [proxy],
    nameUpdate: /POST \/twirp\/vac\.ns\.NS\/Update/,
    casRead: /POST \/twirp\/vac\.cas\.CAS\/Get/,
    stop: async () => { await proxy.close(); await service.stop() }
  }
}

async function ensKuboBackends (): Promise<Backends> {
  const [ens, ipfs] = await Promise.all([startEnsDevnet(), startIpfsRpcNode({ repo: join(await tempDir(), 'ipfs') })])
  const chain = await startFaultProxy({ target: ens.rpcUrl })
  const kubo = await startFaultProxy({ target: ipfs.url })
  return {
    config: (name) => ({
      name,
      cas: { driver: 'kubo', url: `${kubo.url}/api/v0`, timeoutMs: 3000 },
      ns: { ...ens.nsConfig, rpcUrl: chain.url, pollMs: 200, timeoutMs: 3000 },
      log
    }),
    proxies: [chain, kubo],
    nameUpdate: /eth_sendRawTransaction/,
    casRead: /POST \/api\/v0\/block\/get/,
    stop: async () => { await chain.close(); await kubo.close(); await Promise.all([ens.stop(), ipfs.stop()]) }
  }
}

const texts = (from: number, n: number, tag: string): string[] => Array.from({ length: n }, (_, i) => `${tag}-${from + i}`)

async function held (bob: Endpoint, alias: string): Promise<string[]> {
  const out: string[] = []
  for await (const m of bob.read(alias)) {
    expect(m.seq).toBe(out.length)
    out.push(new TextDecoder().decode(m.payload))
  }
  return out
}

/** REMOTELOG_FAULT_REPORT=1 prints what each scenario saw. */
const report = (...what: unknown[]): void => { if (process.env.REMOTELOG_FAULT_REPORT !== undefined) console.log(_label(), ...what) }
let _label = (): string => ''
const transient = (e: unknown): boolean => isRemoteLogError(e, 'UNAVAILABLE') || isRemoteLogError(e, 'TIMEOUT')

describe.each([
  ['the remote log service (Twirp)', serviceBackends],
  ['ENS on Hardhat + the IPFS node RPC API (kubo)', ensKuboBackends]
])('faults between endpoints and %s', (label, start) => {
  let backends: Backends
  beforeAll(() => { _label = () => label })
  beforeAll(async () => { backends = await start() }, 120_000)
  afterAll(async () => { await backends?.stop() })

  /** alice writes, bob follows her; distinct names each time (ENS names are first come, first served). */
  async function pair (): Promise<{ alice: Endpoint, bob: Endpoint, aliceDir: string, name: string, tag: string }> {
    const root = await tempDir()
    const name = `a${randomBytes(4).toString('hex')}`
    const alice = await openEndpoint({ dir: join(root, 'alice'), config: backends.config(name) })
    const bob = await openEndpoint({ dir: join(root, 'bob'), config: backends.config(`b${name}`) })
    await alice.writer() // claims the name while the network is up
    return { alice, bob, aliceDir: join(root, 'alice'), name, tag: name }
  }
  const everyProxy = (): ReturnType<typeof allOf> => allOf(backends.proxies)

  it('publish during an outage: the append stays journaled, the next publish (a new process) delivers it', async () => {
    const { alice, bob, aliceDir, name, tag } = await pair()
    const alice2 = await openEndpoint({ dir: aliceDir, config: backends.config(name) })
    try {
      await alice.append(texts(0, 3, tag))
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')
      expect(await bob.sync('alice')).toMatchObject({ delivered: 3 })

      await everyProxy().goDown()
      expect(await alice.append(texts(3, 2, tag))).toEqual([3, 4])
      const failed = await alice.publish().catch((e: unknown) => e)
      expect(transient(failed), String(failed)).toBe(true)
      report('publish during outage:', String(failed))
      expect((await alice.writer()).pendingCount).toBe(2)
      await everyProxy().comeUp()

      // Another process on alice's state dir finds the two in the journal and publishes them.
      const published = await alice2.publish()
      expect(published).toMatchObject({ published: 2, length: 5 })
      expect(await alice.publish()).toBeUndefined()
      expect(await bob.sync('alice')).toMatchObject({ delivered: 2, length: 5 })
      expect(await held(bob, 'alice')).toEqual(texts(0, 5, tag))
    } finally {
      await everyProxy().comeUp()
      await Promise.all([alice.close(), alice2.close(), bob.close()])
    }
  }, 120_000)

  it('a publish whose name update response is reset mid-way: the next publish finishes it, nothing twice', async () => {
    const { alice, bob, tag } = await pair()
    try {
      await alice.append(texts(0, 2, tag))
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')
      await bob.sync('alice')
      const before = backends.proxies.reduce((n, p) => n + p.stats.resets, 0)
      // The update reaches the backend; its answer is cut (every retry of it too, for a while).
      for (const p of backends.proxies) p.resetAfter(20, { match: backends.nameUpdate, times: 3 })
      await alice.append(texts(2, 3, tag))
      const first = await alice.publish().catch((e: unknown) => e)
      for (const p of backends.proxies) p.clear()
      expect(backends.proxies.reduce((n, p) => n + p.stats.resets, 0)).toBeGreaterThan(before)
      if (first instanceof Error) expect(transient(first), String(first)).toBe(true)
      const second = await alice.publish()
      report('publish with reset update response:', first instanceof Error ? String(first) : 'went through', '/ next publish:', second === undefined ? 'nothing left' : `published ${second.published}`, second?.receipt)
      // Either the first went through after all (nothing left), or the second finished it.
      expect(second === undefined || second.length === 5).toBe(true)
      expect((await alice.writer()).pendingCount).toBe(0)
      expect(await bob.sync('alice')).toMatchObject({ delivered: 3, length: 5 })
      expect(await held(bob, 'alice')).toEqual(texts(0, 5, tag))
    } finally {
      for (const p of backends.proxies) p.clear()
      await Promise.all([alice.close(), bob.close()])
    }
  }, 120_000)

  it('a live follower across a 3 s outage resumes: no gap, no duplicate', async () => {
    const { alice, bob, tag } = await pair()
    try {
      await bob.follow(await alice.address(), 'alice')
      const result = await measureOutage({ writer: alice, reader: bob, alias: 'alice', fault: everyProxy() }, {
        outageMs: 3000, text: i => `${tag}-${i}`, pollMs: 250, timeoutMs: 60_000
      })
      report('live follower:', result)
      expect(result).toMatchObject({ recovered: true, lost: 0, duplicated: 0 })
      expect(result.retries).toBeGreaterThan(0)
      // The default backoff (200 ms doubling, 10 s cap) retries ~3.2 s after a 3 s outage began.
      expect(result.recoveryMs).toBeLessThan(15_000)
      expect(await held(bob, 'alice')).toEqual(texts(0, 13, tag))
    } finally {
      await Promise.all([alice.close(), bob.close()])
    }
  }, 120_000)

  it('a catch-up sync cut mid-way (responses reset, then truncated): the next sync completes it', async () => {
    const { alice, bob, tag } = await pair()
    try {
      // More than one flush of the follower (512 messages): the first cut sync keeps what it stored.
      const all = texts(0, 600, tag)
      await alice.append(all)
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')

      let reads = 0
      const midway = (head: string): boolean => backends.casRead.test(head) && ++reads >= 560
      for (const p of backends.proxies) p.resetAfter(60, { match: midway, times: 40 })
      const cut = await bob.sync('alice').catch((e: unknown) => e)
      for (const p of backends.proxies) p.clear()
      expect(transient(cut), String(cut)).toBe(true)
      const [record] = await bob.following()
      expect(record.cursor.length).toBe(512)

      // A second cut, by truncated responses, before the rest arrives.
      reads = 0
      for (const p of backends.proxies) p.truncateAfter(80, { match: (head) => backends.casRead.test(head) && ++reads >= 30, times: 40 })
      const truncated = await bob.sync('alice').catch((e: unknown) => e)
      for (const p of backends.proxies) p.clear()
      expect(transient(truncated) || isRemoteLogError(truncated, 'INTEGRITY') || isRemoteLogError(truncated, 'MALFORMED'), String(truncated)).toBe(true)

      report('catch-up cut:', String(cut), '/ truncated:', String(truncated))
      const done = await bob.sync('alice')
      expect(done.length).toBe(600)
      expect(await held(bob, 'alice')).toEqual(all)
    } finally {
      for (const p of backends.proxies) p.clear()
      await Promise.all([alice.close(), bob.close()])
    }
  }, 180_000)

  it('with 150 ms added latency each way, publish and sync still deliver everything once', async () => {
    const { alice, bob, tag } = await pair()
    try {
      for (const p of backends.proxies) p.latency(150)
      await alice.append(texts(0, 5, tag))
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')
      expect(await bob.sync('alice')).toMatchObject({ delivered: 5 })
      expect(await held(bob, 'alice')).toEqual(texts(0, 5, tag))
    } finally {
      for (const p of backends.proxies) p.clear()
      await Promise.all([alice.close(), bob.close()])
    }
  }, 120_000)
})
