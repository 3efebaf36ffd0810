import { join } from 'node:path'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import { setTimeout as sleep } from 'node:timers/promises'
import { heliaCas, type HeliaContentStore } from '../adapters/cas/helia.js'
import { openNs, type BackendConfig } from '../adapters/registry.js'
import { formatAddress, parseAddress } from '../core/address.js'
import { readJson, writeJson } from '../core/atomic-json.js'
import { fail, isRemoteLogError } from '../core/errors.js'
import { Mutex } from '../core/mutex.js'
import type { NameSystem } from '../core/name-system.js'
import { toCid } from '../core/ids.js'
import { LogReader, type Cursor } from '../core/reader.js'

export interface IpfsPinnerOptions {
  /** Folder of the node's repo (`repo/`), the name systems' state (`ns/`) and the kept logs (`kept.json`). */
  dir: string
  /** How to resolve each address scheme the pinner may be asked to keep (`local`, `ens`, …). */
  resolvers: Record<string, BackendConfig>
  /** libp2p listen addresses. Default `/ip4/127.0.0.1/tcp/0`. */
  listen?: string[]
  /** Bound on fetching one block from peers. Default 10 000 ms. */
  timeoutMs?: number
  /** Called with what went wrong in the background (a log that could not be refreshed). */
  onError?: (address: string, error: unknown) => void
}

/** How much of a log the pinner holds. */
export interface PinnedLog {
  address: string
  /** Entries whose pages and payloads are pinned here. */
  length: number
  head?: string
}

/** The devnet's always-on IPFS node: a networked Helia node that pins the logs it is told to keep. */
export interface IpfsPinner {
  readonly peerId: string
  readonly store: HeliaContentStore
  /** Addresses endpoints dial (`/ip4/127.0.0.1/tcp/…/p2p/…`). */
  multiaddrs (): string[]
  /**
   * Fetches and pins everything of the log up to its current head (from the peers connected now,
   * e.g. the writer's node), then keeps following it: each new head is pinned as it appears.
   */
  keep (address: string, options?: { signal?: AbortSignal }): Promise<PinnedLog>
  /**
   * Fetches one block from `origins` (dialed unless connected; the node that put it) and pins it.
   * This is how `withPinService` stores have every block pinned here before their name moves.
   */
  pin (cid: string, origins: string[], options?: { signal?: AbortSignal }): Promise<void>
  kept (): string[]
  close (): Promise<void>
}

interface Tracked {
  address: string
  name: string
  ns: NameSystem
  cursor: Cursor
  lock: Mutex
  loop: Promise<void>
}

/**
 * Starts the always-on pinning node. Endpoints whose CAS is `helia` list it in `peers`; once a
 * log is kept here, its writer may go offline and readers still get every block from this node.
 * Kept logs are remembered in `kept.json` and followed again after a restart.
 * @example
 * const pinner = await startIpfsPinner({ dir, resolvers: { local: { driver: 'local', path: names } } })
 * await pinner.keep('local:b…')   // the writer's node must be connected to this one
 * await pinner.close()
 */
export async function startIpfsPinner (options: IpfsPinnerOptions): Promise<IpfsPinner> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const store = await heliaCas({ repo: join(options.dir, 'repo'), offline: false, pinOnGet: true, timeoutMs, listen: options.listen }, { stateDir: options.dir })
  const keptFile = join(options.dir, 'kept.json')
  const systems = new Map<string, Promise<NameSystem>>()
  const tracked = new Map<string, Tracked>()
  const stopping = new AbortController()
  const saving = new Mutex()

  const nsOf = async (scheme: string): Promise<NameSystem> => {
    let ns = systems.get(scheme)
    if (ns === undefined) {
      const config = options.resolvers[scheme]
      if (config === undefined) throw fail('INVALID_INPUT', `the devnet's IPFS node cannot resolve "${scheme}:" addresses`, { backend: 'helia' })
      ns = openNs(config, { stateDir: join(options.dir, 'ns') })
      systems.set(scheme, ns)
      ns.catch(() => systems.delete(scheme))
    }
    return await ns
  }

  const save = async (): Promise<void> => {
    await saving.run(async () => {
      await writeJson(keptFile, Object.fromEntries([...tracked.values()].map(t => [t.address, t.cursor])))
    })
  }

  /** Walks the log from the cursor to the current head; every block read is pinned by the store. */
  const refresh = async (t: Tracked, signal?: AbortSignal): Promise<void> => {
    await t.lock.run(async () => {
      const reader = new LogReader({ cas: store, ns: t.ns, name: t.name })
      const sync = reader.sync(t.cursor, signal)
      for await (const _ of sync.messages) { /* the blocks are what matters: pinned on read */ }
      t.cursor = (await sync.done).cursor
    })
    await save()
  }

  /** Refreshes a kept log whenever its name moves (watch, else a poll), until the pinner stops. */
  const follow = async (t: Tracked): Promise<void> => {
    const signal = stopping.signal
    while (!signal.aborted) {
      try {
        if (t.ns.watch !== undefined) {
          for await (const head of t.ns.watch(t.name, { signal })) {
            if (head.head.toString() !== t.cursor.head) await refresh(t, signal)
          }
        } else {
          await refresh(t, signal)
        }
      } catch (e) {
        if (signal.aborted || isRemoteLogError(e, 'ABORTED')) return
        options.onError?.(t.address, e)
      }
      await sleep(1000, undefined, { signal }).catch(() => {})
    }
  }

  const track = async (address: string, cursor: Cursor): Promise<Tracked> => {
    const parsed = parseAddress(address)
    const key = formatAddress(parsed)
    let t = tracked.get(key)
    if (t === undefined) {
      t = { address: key, name: parsed.name, ns: await nsOf(parsed.scheme), cursor, lock: new Mutex(), loop: Promise.resolve() }
      tracked.set(key, t)
      t.loop = follow(t)
    }
    return t
  }

  // Logs kept before a restart are followed again (in the background: their writers may be gone).
  const earlier = await readJson<Record<string, Cursor>>(keptFile).catch(() => undefined) ?? {}
  for (const [address, cursor] of Object.entries(earlier)) {
    await track(address, cursor).catch(e => options.onError?.(address, e))
  }

  return {
    get peerId () { return store.peerId! },
    store,
    multiaddrs: () => store.multiaddrs(),
    async keep (address, keepOptions = {}) {
      if (stopping.signal.aborted) throw fail('UNAVAILABLE', 'the devnet IPFS node is stopping', { backend: 'helia' })
      const t = await track(address, { length: 0 })
      await refresh(t, keepOptions.signal)
      return { address: t.address, length: t.cursor.length, head: t.cursor.head }
    },
    async pin (cid, origins, pinOptions = {}) {
      if (stopping.signal.aborted) throw fail('UNAVAILABLE', 'the devnet IPFS node is stopping', { backend: 'helia' })
      const id = toCid(cid)
      const connected = new Set((store.helia as HeliaWithLibp2p).libp2p.getConnections().map(c => c.remotePeer.toString()))
      const reachable = origins.some(o => connected.has(o.split('/p2p/').at(-1) ?? ''))
      if (!reachable) await Promise.allSettled(origins.map(async o => { await store.dial(o, pinOptions) }))
      await store.get(id, pinOptions)
    },
    kept: () => [...tracked.keys()],
    async close () {
      if (stopping.signal.aborted) return
      stopping.abort()
      await Promise.allSettled([...tracked.values()].map(async t => await t.loop))
      await Promise.allSettled([...systems.values()].map(async ns => { await (await ns).close() }))
      await store.close()
    }
  }
}
