import { mkdir } from 'node:fs/promises'
import Corestore from 'corestore'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type PeerDiscovery } from 'hyperswarm'
import type Hypercore from 'hypercore'
import { fail } from '../../core/errors.js'
import type { NetworkSettings } from './hypercore-options.js'

const BACKEND = 'hypercore'

/**
 * A Corestore on disk plus a Hyperswarm on the configured DHT, replicating every connection.
 * Shared by the name system and the seeder; one per storage folder (RocksDB holds a lock).
 */
export interface HypercorePeer {
  readonly store: Corestore
  readonly swarm: Hyperswarm
  readonly settings: NetworkSettings
  /** Joins the core's discovery topic (once; later calls may widen client/server) and returns it. */
  join (core: Hypercore, mode: { server: boolean, client: boolean }): PeerDiscovery
  /** True once `join` was called for this core. */
  joined (core: Hypercore): boolean
  /** Stops announcing and looking up the core's topic. */
  leave (core: Hypercore): Promise<void>
  close (): Promise<void>
}

/**
 * Opens the store in `storage` and a swarm on `settings.bootstrap`.
 * @example const peer = await openPeer('/tmp/alice/hypercore', networkSettings({ bootstrap }))
 */
export async function openPeer (storage: string, settings: NetworkSettings): Promise<HypercorePeer> {
  await mkdir(storage, { recursive: true })
  const store = new Corestore(storage)
  try {
    await store.ready()
  } catch (cause) {
    await store.close().catch(() => {})
    throw fail('UNAVAILABLE', `cannot open the Corestore in ${storage} (one process per storage folder)`, { backend: BACKEND, cause })
  }
  const swarm = new Hyperswarm({ dht: new HyperDHT({ bootstrap: settings.bootstrap, host: settings.host }) })
  swarm.on('connection', connection => {
    // A dropped peer is routine; without a listener the stream's error would crash the process.
    connection.on('error', () => {})
    store.replicate(connection)
  })
  const topics = new Map<string, { discovery: PeerDiscovery, server: boolean, client: boolean }>()
  let closing: Promise<void> | undefined

  return {
    store,
    swarm,
    settings,
    join (core, mode) {
      const id = core.discoveryKey.toString('hex')
      const known = topics.get(id)
      if (known !== undefined && (known.server || !mode.server) && (known.client || !mode.client)) return known.discovery
      const server = mode.server || known?.server === true
      const client = mode.client || known?.client === true
      const discovery = swarm.join(core.discoveryKey, { server, client })
      topics.set(id, { discovery, server, client })
      return discovery
    },
    joined (core) {
      return topics.has(core.discoveryKey.toString('hex'))
    },
    async leave (core) {
      topics.delete(core.discoveryKey.toString('hex'))
      await swarm.leave(core.discoveryKey)
    },
    async close () {
      closing ??= (async () => {
        await swarm.destroy().catch(() => {})
        await store.close().catch(() => {})
      })()
      await closing
    }
  }
}
