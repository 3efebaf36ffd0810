import { join } from 'node:path'
import type Hypercore from 'hypercore'
import type { Download } from 'hypercore'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { decodePointer } from '../../core/head-pointer.js'
import { Deadline } from './hypercore-deadline.js'
import { coreKeyOfName, nameOfCoreKey } from './hypercore-keys.js'
import { networkSettings, type HypercoreNetworkOptions } from './hypercore-options.js'
import { openPeer } from './hypercore-peer.js'

const BACKEND = 'hypercore'

export interface SeederOptions extends HypercoreNetworkOptions {
  /** Corestore folder of the replicas (not an endpoint's own folder: one process per folder). */
  storage: string
  /** Logs to seed, as `hypercore:<name>` addresses or bare names; those seeded before are resumed too. */
  keys?: string[]
}

/** How far a seeded core has replicated. */
export interface SeedStatus {
  name: string
  /** Blocks the seeder knows of (the writer's newest length it has seen). */
  length: number
  /** Whether the newest block is stored here, so readers can resolve through this seeder alone. */
  hasHead: boolean
  /** The page id the newest block points at, when stored here. */
  head?: string
  peers: number
}

/** A running seeder: keeps full replicas of the cores it is told to seed and serves them to readers. */
export interface Seeder {
  /** Starts (or refreshes) seeding a log and resolves once it holds the newest head peers offer (within the timeout). */
  seed (address: string, options?: CallOptions): Promise<SeedStatus>
  /** Stops seeding a log and drops its replica. */
  unseed (address: string): Promise<void>
  /** Names currently seeded. */
  seeding (): string[]
  status (address: string): Promise<SeedStatus>
  close (): Promise<void>
}

interface Seeded {
  core: Hypercore
  download: Download
}

/**
 * Seeder options from an endpoint's `hypercore` NS (or resolver) config: the same DHT bootstrap
 * list, host and timeout, replicas in `<stateDir>/hypercore-seeder` unless `seederStorage` is set.
 * @example const seeder = await startSeeder(seederOptionsFrom(config.ns, stateDir, ['hypercore:yuq…']))
 */
export function seederOptionsFrom (backend: { driver: string, [option: string]: unknown }, stateDir: string, keys: string[] = []): SeederOptions {
  if (backend.driver !== 'hypercore') throw fail('INVALID_CONFIG', `a seeder needs hypercore settings, got the "${backend.driver}" driver`, { backend: BACKEND })
  const { bootstrap, host, timeoutMs, seederStorage } = backend as Partial<HypercoreNetworkOptions> & { seederStorage?: string }
  return { bootstrap: bootstrap!, host, timeoutMs, storage: seederStorage ?? join(stateDir, 'hypercore-seeder'), keys }
}

function nameOfAddress (address: string): string {
  return address.startsWith('hypercore:') ? address.slice('hypercore:'.length) : address
}

/**
 * Starts an always-on seeder: every core in `storage` and in `keys` is joined on the DHT as client
 * and server and downloaded in full, following appends live, so readers resolve the latest head
 * through it while the writer is offline.
 * @example
 * const seeder = await startSeeder({ storage: '/var/lib/remotelog/seeds', bootstrap, keys: ['hypercore:yuq…'] })
 * await seeder.seed(address)
 * await seeder.close()
 */
export async function startSeeder (options: SeederOptions): Promise<Seeder> {
  const settings = networkSettings(options)
  if (typeof options.storage !== 'string' || options.storage === '') {
    throw fail('INVALID_CONFIG', 'the hypercore seeder needs a storage folder', { backend: BACKEND })
  }
  const wanted = (options.keys ?? []).map(nameOfAddress)
  wanted.forEach(coreKeyOfName)
  const peer = await openPeer(options.storage, settings)
  const seeded = new Map<string, Promise<Seeded>>()
  let closed = false

  async function start (name: string, open: () => Hypercore): Promise<Seeded> {
    let entry = seeded.get(name)
    if (entry === undefined) {
      entry = (async () => {
        const core = open()
        await core.ready()
        peer.join(core, { server: true, client: true })
        return { core, download: core.download({ start: 0, end: -1 }) }
      })()
      seeded.set(name, entry)
      entry.catch(() => seeded.delete(name))
    }
    return await entry
  }

  async function statusOf (name: string, core: Hypercore): Promise<SeedStatus> {
    const hasHead = core.length > 0 && await core.has(core.length - 1).catch(() => false)
    const head = hasHead ? await core.get(core.length - 1, { wait: false }).then(block => block === null ? undefined : decodePointer(block).head.toString(), () => undefined) : undefined
    return { name, length: core.length, hasHead, ...(head !== undefined ? { head } : {}), peers: core.peers.length }
  }

  async function catchUp (name: string, core: Hypercore, deadline: Deadline): Promise<SeedStatus> {
    const found = core.findingPeers()
    peer.swarm.flush().catch(() => {}).finally(found)
    const activeRequests: unknown[] = []
    try {
      await deadline.race(core.update({ wait: true, activeRequests }), `seeding hypercore:${name}`, e => core.clearRequests(activeRequests, e))
      if (core.length > 0) {
        await deadline.race(core.get(core.length - 1, { timeout: deadline.remaining(), activeRequests }), `fetching the head of hypercore:${name}`,
          e => core.clearRequests(activeRequests, e))
      }
    } catch (error) {
      if (isRemoteLogError(error, 'ABORTED')) throw error
      // No peer right now: keep seeding; the writer's next appearance fills the replica.
    } finally {
      found()
    }
    return await statusOf(name, core)
  }

  const resuming = (async () => {
    for await (const discoveryKey of peer.store.list()) {
      if (closed) return
      const core = peer.store.get({ discoveryKey })
      await core.ready()
      const name = nameOfCoreKey(core.key)
      if (seeded.has(name)) await core.close()
      else await start(name, () => core)
    }
  })().catch(() => {})

  const seeder: Seeder = {
    async seed (address, callOptions = {}) {
      if (closed) throw fail('UNAVAILABLE', 'the hypercore seeder is closed', { backend: BACKEND })
      const name = nameOfAddress(address)
      const key = coreKeyOfName(name)
      const { core } = await start(name, () => peer.store.get({ key }))
      return await catchUp(name, core, new Deadline(settings.timeoutMs, callOptions.signal))
    },

    async unseed (address) {
      const name = nameOfAddress(address)
      coreKeyOfName(name)
      const entry = seeded.get(name)
      if (entry === undefined) return
      seeded.delete(name)
      const { core, download } = await entry
      download.destroy()
      await peer.leave(core).catch(() => {})
      await core.purge().catch(async () => await core.close())
    },

    seeding () {
      return [...seeded.keys()]
    },

    async status (address) {
      const name = nameOfAddress(address)
      coreKeyOfName(name)
      const entry = seeded.get(name)
      if (entry === undefined) throw fail('NOT_FOUND', `hypercore:${name} is not seeded here`, { backend: BACKEND })
      return await statusOf(name, (await entry).core)
    },

    async close () {
      if (closed) return
      closed = true
      await resuming
      await peer.close()
    }
  }
  await Promise.all(wanted.map(async name => await start(name, () => peer.store.get({ key: coreKeyOfName(name) }))))
  return seeder
}
