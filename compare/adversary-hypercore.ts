import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Corestore from 'corestore'
import Hypercore from 'hypercore'
import HyperDHT, { type HostPort } from 'hyperdht'
import Hyperswarm, { type PeerDiscovery } from 'hyperswarm'
import { coreKeyOfName, hypercoreKeyPair, manifestOf } from '../adapters/ns/hypercore-keys.js'
import { networkSettings } from '../adapters/ns/hypercore-options.js'
import { decodePointer, encodePointer } from '../core/head-pointer.js'
import type { HeadRecord, OwnerKey } from '../core/name-system.js'
import type { NsAdversary } from './adversary.js'

export interface HypercoreAdversaryOptions {
  /** DHT bootstrap nodes of the swarm the log lives on. */
  bootstrap: HostPort[]
  /** The writer's own Corestore folder (`<stateDir>/hypercore`): the owner forks its core there. Its process must be gone. */
  writerStorage: string
  name: string
  timeoutMs?: number
}

/** A bare Corestore + Hyperswarm replicating every connection: what any Hypercore peer is, without remotelog. */
interface RawPeer {
  store: Corestore
  swarm: Hyperswarm
  connections: number
  close: () => Promise<void>
}

async function rawPeer (storage: string, bootstrap: HostPort[], removeStorage: boolean): Promise<RawPeer> {
  const { host } = networkSettings({ bootstrap })
  const store = new Corestore(storage)
  await store.ready()
  const swarm = new Hyperswarm({ dht: new HyperDHT({ bootstrap, host }) })
  const peer: RawPeer = {
    store,
    swarm,
    connections: 0,
    close: async () => {
      await swarm.destroy().catch(() => {})
      await store.close().catch(() => {})
      if (removeStorage) await rm(storage, { recursive: true, force: true })
    }
  }
  swarm.on('connection', connection => {
    peer.connections++
    connection.on('error', () => {})
    store.replicate(connection)
  })
  return peer
}

async function within<T> (ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([work, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The raw attacker of Hypercore, with bare Corestore/Hyperswarm (no remotelog code path): a core
 * under another key, holding a forged head, announced on the log's discovery topic; and the owner
 * opening its own core with its key pair to truncate it and append an older head (a fork, which a
 * core's key may sign). `head()` reads the newest block the swarm serves, as a fresh peer.
 * @example const mallory = hypercoreAdversary({ bootstrap, writerStorage: `${writerDir}/hypercore`, name })
 */
export function hypercoreAdversary (options: HypercoreAdversaryOptions): NsAdversary {
  const key = coreKeyOfName(options.name)
  const discoveryKey = (Hypercore as unknown as { discoveryKey: (key: Buffer) => Buffer }).discoveryKey(key)
  const timeoutMs = options.timeoutMs ?? 10_000
  const peers: RawPeer[] = []
  let attacker: RawPeer | undefined
  let owner: { peer: RawPeer, core: Hypercore } | undefined
  let reader: { peer: RawPeer, core: Hypercore, discovery: PeerDiscovery } | undefined
  let replaced: Buffer | undefined

  const temp = async (): Promise<string> => await mkdtemp(join(tmpdir(), 'remotelog-mallory-'))

  async function ownerCore (ownerKey: OwnerKey): Promise<{ peer: RawPeer, core: Hypercore }> {
    if (owner === undefined) {
      const peer = await rawPeer(options.writerStorage, options.bootstrap, false)
      peers.push(peer)
      const keyPair = hypercoreKeyPair(ownerKey)
      const core = peer.store.get({ keyPair, manifest: manifestOf(keyPair) })
      await core.ready()
      owner = { peer, core }
    }
    return owner
  }

  return {
    backend: 'hypercore',

    async remember () {},

    async foreignWrite (forged: HeadRecord) {
      attacker = await rawPeer(await temp(), options.bootstrap, true)
      peers.push(attacker)
      const keyPair = hypercoreKeyPair({ label: 'mallory', secret: randomBytes(32) })
      const core = attacker.store.get({ keyPair, manifest: manifestOf(keyPair) })
      await core.ready()
      await core.append(Buffer.from(encodePointer(forged)))
      attacker.swarm.join(discoveryKey, { server: true, client: true })
      attacker.swarm.join(core.discoveryKey, { server: true, client: false })
      await within(timeoutMs, 'announcing the foreign core', attacker.swarm.flush())
      return {
        accepted: false,
        short: 'not replicated as the log',
        summary: `a core under another key (${core.id}) holding a forged head, announced on the log's discovery topic: Hypercore replicates a core only under its own key, so no peer can be handed its blocks as the log's`
      }
    },

    async rollback (older: HeadRecord, ownerKey: OwnerKey) {
      const { peer, core } = await ownerCore(ownerKey)
      const length = core.length
      replaced = (await core.get(length - 1)) ?? undefined
      await core.truncate(length - 1)
      await core.append(Buffer.from(encodePointer(older)))
      peer.swarm.join(core.discoveryKey, { server: true, client: true })
      await within(timeoutMs, 'announcing the forked core', peer.swarm.flush())
      return {
        accepted: true,
        short: 'fork served',
        summary: `the owner opened its core with its key pair, truncated it from ${length} to ${length - 1} blocks and appended its first head (revision ${older.revision}) as block ${length - 1}, fork ${core.fork}: a truncation signed by the core's key is valid Hypercore`
      }
    },

    async head () {
      if (reader === undefined) {
        const peer = await rawPeer(await temp(), options.bootstrap, true)
        peers.push(peer)
        const core = peer.store.get({ key })
        await core.ready()
        reader = { peer, core, discovery: peer.swarm.join(core.discoveryKey, { server: false, client: true }) }
      } else {
        // Look the topic up again: a peer that appeared since (the owner's fork) must be asked too.
        reader.discovery.refresh().catch(() => {})
      }
      const found = reader.core.findingPeers()
      reader.peer.swarm.flush().then(found, found)
      const core = reader.core
      // Peers take a while to be found and connected (announcements of peers that are gone linger
      // on the DHT): ask again, looking the topic up anew now and then, for up to three timeouts.
      const deadline = Date.now() + 3 * timeoutMs
      for (let round = 1; ; round++) {
        await within(Math.max(1, Math.min(timeoutMs, deadline - Date.now())), 'reading the core\'s length from peers', core.update({ wait: true })).catch(() => false)
        if (core.length > 0 || Date.now() >= deadline) break
        await sleep(250)
        if (round % 8 === 0) await reader.discovery.refresh().catch(() => {})
      }
      if (core.length === 0) return undefined
      const block = await within(timeoutMs, 'reading the newest block', core.get(core.length - 1, { timeout: timeoutMs }))
      return block === null ? undefined : decodePointer(block).head.toString()
    },

    async restore () {
      // The owner appends the head it replaced again: readers find their newest revision back.
      if (owner === undefined || replaced === undefined) return
      await owner.core.append(replaced)
      replaced = undefined
    },

    async finish () {
      if (attacker === undefined) return []
      const { connections } = attacker
      await attacker.close()
      peers.splice(peers.indexOf(attacker), 1)
      attacker = undefined
      return [`the foreign core's peer had ${connections} connection(s) from peers of the log's topic; it holds no block of the log's core`]
    },

    async close () {
      await Promise.allSettled(peers.splice(0).map(async peer => { await peer.close() }))
    }
  }
}
