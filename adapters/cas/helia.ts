import { join } from 'node:path'
import type { GraphNode, GraphWalkerFactory, Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import type { CallOptions, ContentStore } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { checkSize, cidOf, verifyBytes } from '../../core/ids.js'
import type { BackendContext } from '../registry.js'
import { startHeliaRepo } from './helia-repo.js'
import { datastoreLogHeads } from './log-heads.js'
import { parsePeers, PeerDialer } from './helia-peers.js'
import { SweepGate } from './sweep-gate.js'

const BACKEND = 'helia'

/**
 * Our blocks are raw (no links), so a pin's walk is the block itself. Helia's default walker runs even
 * that through a job queue, which made each pin take ~3 ms; this one makes puts ~5× faster.
 * It does not read the block: callers pin only blocks they just stored or read.
 */
const singleBlock: GraphWalkerFactory = () => ({
  async * walk<T> (cid: CID) {
    yield { block: { cid }, depth: 0, path: [cid] } as unknown as GraphNode<T>
  }
})

export interface HeliaCasOptions {
  /** The IPFS repo folder (blocks + datastore). Default `<stateDir>/ipfs`. One process per repo. */
  repo?: string
  /**
   * No networking at all (default `true`). A missing block then fails at once with NOT_FOUND: the repo
   * is the whole store, and it answered. Online, a block the repo lacks is asked of the connected
   * peers: none sending it within timeoutMs is TIMEOUT, no peer connected at all is UNAVAILABLE.
   */
  offline?: boolean
  /** Multiaddrs to listen on when online. Default `['/ip4/127.0.0.1/tcp/0']`. */
  listen?: string[]
  /** Multiaddrs of peers to dial when online, e.g. `/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…`. */
  peers?: string[]
  /** Bound on fetching one missing block from peers, and on each dial (default 10 000 ms); past it, TIMEOUT. */
  timeoutMs?: number
  /** Pin every block this store reads, so it keeps serving a log to others (an always-on node). */
  pinOnGet?: boolean
}

/** The Helia CAS plus what an always-on node needs: its addresses, pins and garbage collection. */
export interface HeliaContentStore extends ContentStore {
  /** The underlying Helia node (for advanced use; remotelog only stores raw blocks in it). */
  readonly helia: Helia
  /** The libp2p peer id (kept in the repo), or undefined when offline. */
  readonly peerId: string | undefined
  /** Addresses others can dial (each ends in `/p2p/<peerId>`); empty when offline. */
  multiaddrs (): string[]
  /** Peer ids of the nodes connected now (empty when offline). */
  connectedPeers (): string[]
  /** Connects to another node now, e.g. one that started after this store. */
  dial (address: string, options?: CallOptions): Promise<void>
  /** Unpins and removes the block from the repo. */
  delete (id: CID, options?: CallOptions): Promise<void>
  isPinned (id: CID, options?: CallOptions): Promise<boolean>
  /** Unpins without deleting: the next `gc()` frees the block. */
  unpin (id: CID, options?: CallOptions): Promise<void>
  /** Frees every unpinned block from the repo. Returns how many were freed. */
  gc (options?: CallOptions): Promise<number>
}

interface Settings {
  repo: string
  offline: boolean
  listen: string[]
  peers: string[]
  timeoutMs: number
  pinOnGet: boolean
}

function settings (options: HeliaCasOptions, context: BackendContext): Settings {
  const o = options as Record<string, unknown>
  const strings = (key: string, fallback: string[]): string[] => {
    const value = o[key] ?? fallback
    if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) {
      throw fail('INVALID_CONFIG', `${key} must be a list of multiaddr strings`, { backend: BACKEND })
    }
    return value
  }
  const flag = (key: string, fallback: boolean): boolean => {
    const value = o[key] ?? fallback
    if (typeof value !== 'boolean') throw fail('INVALID_CONFIG', `${key} must be true or false`, { backend: BACKEND })
    return value
  }
  const repo = o.repo ?? join(context.stateDir, 'ipfs')
  if (typeof repo !== 'string' || repo === '') throw fail('INVALID_CONFIG', 'repo must be a folder path', { backend: BACKEND })
  const timeoutMs = o.timeoutMs ?? 10_000
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw fail('INVALID_CONFIG', 'timeoutMs must be a positive number', { backend: BACKEND })
  return {
    repo,
    offline: flag('offline', true),
    listen: strings('listen', ['/ip4/127.0.0.1/tcp/0']),
    peers: strings('peers', []),
    timeoutMs,
    pinOnGet: flag('pinOnGet', false)
  }
}

async function collect (chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/** An operation called with an already-aborted signal does nothing and fails with ABORTED. */
function notAborted (signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw fail('ABORTED', what, { backend: BACKEND, cause: signal.reason })
}

function wrap (e: unknown, what: string): Error {
  if (isRemoteLogError(e)) return e
  if ((e as { name?: string }).name === 'AbortError') return fail('ABORTED', what, { backend: BACKEND, cause: e })
  return fail('UNAVAILABLE', what, { backend: BACKEND, cause: e })
}

/**
 * The embedded IPFS CAS: a Helia node with its repo on disk. Offline by default; with
 * `offline: false` it listens on libp2p TCP (loopback by default) and fetches blocks it lacks from
 * the peers it dials, over bitswap. Everything it stores is pinned; `delete` unpins and removes;
 * `gc()` frees unpinned blocks. Local reads never touch the network.
 * @example
 * const cas = await heliaCas({ offline: false, peers: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…'] }, { stateDir })
 * const bytes = await cas.get(id) // from the repo, else from the peers within timeoutMs
 */
export async function heliaCas (options: HeliaCasOptions = {}, context: BackendContext): Promise<HeliaContentStore> {
  const s = settings(options ?? {}, context)
  const peerAddresses = parsePeers(s.peers)
  const node = await startHeliaRepo(s.repo, s.offline ? undefined : { listen: s.listen })
  const { helia, libp2p } = node
  const peers = libp2p === undefined ? undefined : new PeerDialer(libp2p, peerAddresses, s.timeoutMs)
  void peers?.connect()
  const gate = new SweepGate()
  let closed = false
  /** Aborts network fetches in flight when the store closes, so close() does not wait out their timeouts. */
  const closing = new AbortController()

  /** Pins a block that is in the repo; pinning it again is a no-op. */
  const unpinStored = async (id: CID, callOptions?: CallOptions): Promise<void> => {
    open()
    await gate.shared(async () => {
      if (await helia.blockstore.has(id)) await unpin(id, callOptions?.signal)
    }).catch(e => { throw wrap(e, `cannot unpin ${id.toString()}`) })
  }

  const pin = async (id: CID, signal?: AbortSignal): Promise<void> => {
    try {
      for await (const _ of helia.pins.add(id, { depth: 0, signal, walker: singleBlock })) { /* drain */ }
    } catch (e) {
      if ((e as { name?: string }).name !== 'AlreadyPinnedError') throw e
    }
  }

  const unpin = async (id: CID, signal?: AbortSignal): Promise<void> => {
    try {
      for await (const _ of helia.pins.rm(id, { signal, walker: singleBlock })) { /* drain */ }
    } catch (e) {
      if ((e as { name?: string }).name !== 'NotFoundError') throw e
    }
  }

  const withCloseAndTimeout = (signal: AbortSignal | undefined, timeout: AbortSignal): AbortSignal =>
    AbortSignal.any(signal === undefined ? [timeout, closing.signal] : [signal, timeout, closing.signal])

  /**
   * Reads a block from the repo, else from the connected peers before `timeout` (default: timeoutMs
   * from now). Helia checks the repo first.
   */
  const getNearest = async (id: CID, signal?: AbortSignal, timeout = AbortSignal.timeout(s.timeoutMs)): Promise<Uint8Array> => {
    const bounded = withCloseAndTimeout(signal, timeout)
    try {
      // maxProviders 0: ask only the connected peers; there is no content routing to search (and each
      // search attempt cost more than the block transfer itself).
      return await collect(helia.blockstore.get(id, { signal: bounded, maxProviders: 0 } as never))
    } catch (e) {
      if (signal?.aborted === true) throw fail('ABORTED', `get ${id.toString()}`, { backend: BACKEND, cause: e })
      if (closing.signal.aborted) throw fail('UNAVAILABLE', `get ${id.toString()}: the store was closed`, { backend: BACKEND, cause: e })
      if (timeout.aborted) {
        // Peers that lack a block stay silent (or say DONT_HAVE and may still find it): no answer in
        // time is not an answer that the object does not exist.
        throw fail('TIMEOUT', `no object ${id.toString()} in the repo, and ${libp2p?.getConnections().length ?? 0} connected peer(s) did not send it within ${s.timeoutMs} ms`,
          { backend: BACKEND, cause: e, details: { timeoutMs: s.timeoutMs } })
      }
      throw wrap(e, `cannot fetch ${id.toString()} from peers`)
    }
  }

  /**
   * A block that is not in the repo: dials the configured peers if none is connected, then asks them,
   * all within timeoutMs. Offline, the repo's answer is final (NOT_FOUND); online with nobody to ask,
   * nobody answered (UNAVAILABLE).
   */
  const fetchFromPeers = async (id: CID, signal?: AbortSignal): Promise<Uint8Array> => {
    if (peers === undefined || libp2p === undefined) {
      throw fail('NOT_FOUND', `no object ${id.toString()} in the repo (offline)`, { backend: BACKEND })
    }
    const timeout = AbortSignal.timeout(s.timeoutMs)
    await peers.connect(withCloseAndTimeout(signal, timeout))
    notAborted(signal, `get ${id.toString()}`)
    if (closing.signal.aborted) throw fail('UNAVAILABLE', `get ${id.toString()}: the store was closed`, { backend: BACKEND })
    if (libp2p.getConnections().length === 0) {
      const tried = peers.addresses.map(a => `${a}${peers.lastErrors.has(a) ? ` (${peers.lastErrors.get(a)})` : ''}`)
      throw fail('UNAVAILABLE', `no object ${id.toString()} in the repo and no peer connected to ask${tried.length > 0 ? `; dialed ${tried.join(', ')}` : ' (no peers configured)'}`,
        { backend: BACKEND, details: { peers: peers.addresses } })
    }
    return await getNearest(id, signal, timeout)
  }

  const open = (): void => {
    if (closed) throw fail('UNAVAILABLE', 'the store is closed', { backend: BACKEND })
  }

  return {
    backend: BACKEND,
    capabilities: { delete: true },
    helia,
    peerId: libp2p?.peerId.toString(),
    multiaddrs: () => libp2p?.getMultiaddrs().map(String) ?? [],
    connectedPeers: () => [...new Set(libp2p?.getConnections().map(c => c.remotePeer.toString()) ?? [])],

    async put (bytes, callOptions) {
      open()
      checkSize(bytes, BACKEND)
      const id = cidOf(bytes)
      const signal = callOptions?.signal
      notAborted(signal, `put ${id.toString()}`)
      await gate.shared(async () => {
        try {
          await helia.blockstore.put(id, bytes, { signal })
          await pin(id, signal)
        } catch (e) {
          throw wrap(e, `cannot store ${id.toString()}`)
        }
      })
      return id
    },

    async get (id, callOptions) {
      open()
      const signal = callOptions?.signal
      notAborted(signal, `get ${id.toString()}`)
      return await gate.shared(async () => {
        let bytes: Uint8Array
        if (libp2p !== undefined && libp2p.getConnections().length > 0) {
          // One lookup in the repo, not two: while connected, Helia's own read checks the repo first.
          bytes = await getNearest(id, signal)
        } else {
          try {
            bytes = await collect(helia.blockstore.get(id, { offline: true, signal }))
          } catch (e) {
            if ((e as { name?: string }).name !== 'BlockNotFoundWhileOfflineError') throw wrap(e, `cannot read ${id.toString()}`)
            bytes = await fetchFromPeers(id, signal)
          }
        }
        verifyBytes(id, bytes, BACKEND)
        if (s.pinOnGet && !await helia.pins.isPinned(id, { signal })) {
          await pin(id, signal).catch(e => { throw wrap(e, `cannot pin ${id.toString()}`) })
        }
        return bytes
      })
    },

    async has (id, callOptions) {
      open()
      notAborted(callOptions?.signal, `has ${id.toString()}`)
      try {
        return await helia.blockstore.has(id, { signal: callOptions?.signal })
      } catch (e) {
        throw wrap(e, `cannot check ${id.toString()}`)
      }
    },

    async delete (id, callOptions) {
      open()
      const signal = callOptions?.signal
      notAborted(signal, `delete ${id.toString()}`)
      try {
        await gate.shared(async () => {
          if (!await helia.blockstore.has(id, { signal })) return
          await unpin(id, signal)
          await helia.blockstore.delete(id, { signal })
        })
      } catch (e) {
        throw wrap(e, `cannot delete ${id.toString()}`)
      }
    },

    async isPinned (id, callOptions) {
      open()
      return await helia.pins.isPinned(id, { signal: callOptions?.signal })
    },

    unpin: unpinStored,

    // A replaced head page may be in a peer's want list right now: unpin it, gc frees it later.
    release: unpinStored,

    heads: datastoreLogHeads(helia.datastore),

    async gc (callOptions) {
      open()
      let freed = 0
      await gate.exclusive(async () => {
        await helia.gc({
          signal: callOptions?.signal,
          onProgress: (event) => { if (event.type === 'helia:gc:deleted') freed++ }
        })
      }).catch(e => { throw wrap(e, 'garbage collection failed') })
      return freed
    },

    async dial (address, callOptions) {
      open()
      if (peers === undefined) throw fail('INVALID_CONFIG', 'cannot dial: this store is offline (set offline: false)', { backend: BACKEND })
      const [parsed] = parsePeers([address])
      try {
        await peers.dial(parsed, callOptions?.signal)
      } catch (e) {
        throw fail('UNAVAILABLE', `cannot dial ${address}`, { backend: BACKEND, cause: e })
      }
    },

    async close () {
      if (closed) return
      closed = true
      closing.abort()
      await gate.exclusive(async () => { await node.stop() })
    }
  }
}
