// Hypercore name system (issue 5): publish latency, resolve latency for a warm reader (swarm and
// core session kept open) and a cold one (fresh storage and swarm: DHT lookup, connect, fetch), and
// publish→delivered latency for a live follower endpoint, p50/p95 over 100 iterations, side by side
// with the local NS in the same run. All peers on a local DHT testnet on 127.0.0.1.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { hypercoreNs } from '../adapters/ns/hypercore.js'
import { localNs } from '../adapters/ns/local.js'
import type { BackendConfig } from '../adapters/registry.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { SyncReport } from '../core/endpoint.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem, OwnerKey } from '../core/name-system.js'
import { startHypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { percentile, report, sample, since, type Figure } from './support.js'

const N = 100
const WARMUP = 5

const root = await mkdtemp(join(tmpdir(), 'remotelog-bench-hypercore-'))
let dirs = 0
const freshDir = (): string => join(root, `d${dirs++}`)

interface Runner {
  label: string
  open: () => Promise<NameSystem>
  nsConfig: () => BackendConfig
}

/** Publishes N successive heads, resolves N times from a warm reader, and N times from cold ones. */
async function nsLatencies (runner: Runner): Promise<{ publish: number[], warm: number[], cold: number[], coldOpen: number[] }> {
  const writer = await runner.open()
  const reader = await runner.open()
  const owner: OwnerKey = { label: 'bench', secret: randomBytes(32) }
  const name = await writer.nameOf(owner)
  let previous: CID | undefined
  let revision = 0
  const publishOnce = async (): Promise<void> => {
    const head = cidOf(randomBytes(32))
    await writer.publish(name, { head, length: ++revision, revision }, owner, { previous })
    previous = head
  }
  try {
    await sample(WARMUP, publishOnce)
    const publish = await sample(N, publishOnce)
    await sample(WARMUP, async () => await reader.resolve(name))
    const warm = await sample(N, async () => await reader.resolve(name))
    const cold: number[] = []
    const coldOpen: number[] = []
    for (let i = 0; i < N; i++) {
      let start = performance.now()
      const fresh = await runner.open()
      coldOpen.push(since(start))
      start = performance.now()
      const got = await fresh.resolve(name)
      cold.push(since(start))
      await fresh.close()
      if (got.revision !== revision) throw new Error(`cold reader saw revision ${String(got.revision)}, expected ${revision}`)
    }
    return { publish, warm, cold, coldOpen }
  } finally {
    await reader.close()
    await writer.close()
  }
}

/**
 * Milliseconds from the start of alice's endpoint publish until bob's live follow delivered it, and
 * of the publish alone (CAS puts, journal, NS), N times.
 */
async function liveLatency (runner: Runner): Promise<{ delivered: number[], publish: number[] }> {
  const casDir = freshDir()
  const config = (): { cas: BackendConfig, ns: BackendConfig, log: { mode: 'pointer' } } => ({ cas: { driver: 'local', path: casDir }, ns: runner.nsConfig(), log: { mode: 'pointer' } })
  const alice = await openEndpoint({ dir: freshDir(), config: config() })
  const bob = await openEndpoint({ dir: freshDir(), config: config() })
  const controller = new AbortController()
  try {
    await alice.append(['hello'])
    await alice.publish()
    await bob.follow(await alice.address(), 'alice')
    let last: SyncReport | undefined
    let changed: (() => void) | undefined
    const following = (async () => {
      for await (const r of bob.watch('alice', { signal: controller.signal, pollMs: 100 })) {
        last = r
        changed?.()
      }
    })()
    following.catch(() => {})
    const delivered = async (length: number): Promise<void> => {
      while ((last?.length ?? 0) < length) await new Promise<void>(resolve => { changed = resolve })
    }
    await delivered(1)
    let length = 1
    const once = async (): Promise<void> => {
      await alice.append([`live ${length}`])
      const start = performance.now()
      await alice.publish()
      publishes.push(since(start))
      await delivered(++length)
      samples.push(since(start))
    }
    const samples: number[] = []
    const publishes: number[] = []
    for (let i = 0; i < WARMUP; i++) await once()
    samples.length = 0
    publishes.length = 0
    for (let i = 0; i < N; i++) await once()
    controller.abort()
    await following
    return { delivered: samples, publish: publishes }
  } finally {
    controller.abort()
    await bob.close()
    await alice.close()
  }
}

const figures: Figure[] = []
const stats = (name: string, samples: number[], baseline?: string): void => {
  figures.push({ name: `${name} p50`, value: percentile(samples, 50), unit: 'ms', baseline: baseline && `${baseline} p50` })
  figures.push({ name: `${name} p95`, value: percentile(samples, 95), unit: 'ms', baseline: baseline && `${baseline} p95` })
}

const testnet = await startHypercoreTestnet()
try {
  const nsDir = freshDir()
  const local: Runner = {
    label: 'local',
    open: async () => localNs({ path: nsDir }),
    nsConfig: () => ({ driver: 'local', path: nsDir, pollMs: 100 })
  }
  const hypercore: Runner = {
    label: 'hypercore',
    open: async () => await hypercoreNs({ storage: freshDir(), bootstrap: testnet.bootstrap, timeoutMs: 10_000 }),
    nsConfig: () => ({ driver: 'hypercore', bootstrap: testnet.bootstrap, timeoutMs: 10_000 })
  }
  const localRun = await nsLatencies(local)
  const hyperRun = await nsLatencies(hypercore)
  const localLive = await liveLatency(local)
  const hyperLive = await liveLatency(hypercore)

  stats('local publish', localRun.publish)
  stats('hypercore publish', hyperRun.publish, 'local publish')
  stats('local resolve, warm', localRun.warm)
  stats('hypercore resolve, warm', hyperRun.warm, 'local resolve, warm')
  stats('local resolve, cold', localRun.cold)
  stats('hypercore resolve, cold', hyperRun.cold, 'local resolve, cold')
  stats('hypercore cold reader open (not in resolve)', hyperRun.coldOpen)
  stats('local endpoint publish (1 message)', localLive.publish)
  stats('hypercore endpoint publish (1 message)', hyperLive.publish, 'local endpoint publish (1 message)')
  stats('local publish→delivered, live (watch polls 100 ms)', localLive.delivered)
  stats('hypercore publish→delivered, live (append events)', hyperLive.delivered, 'local publish→delivered, live (watch polls 100 ms)')
  report(`Hypercore name system vs local NS, ${N} iterations, DHT testnet on 127.0.0.1`, figures)
} finally {
  await testnet.stop()
  await rm(root, { recursive: true, force: true })
}
