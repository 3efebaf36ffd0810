import type Hypercore from 'hypercore'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { decodePointer } from '../../core/head-pointer.js'
import type { ResolvedHead } from '../../core/name-system.js'
import type { Deadline } from './hypercore-deadline.js'
import { checkForward, equivocationError, rememberSeen, type FeedMemory } from './hypercore-guard.js'
import type { HypercorePeer } from './hypercore-peer.js'
import { dropSilentPeers, silentPeerProbe } from './hypercore-silent-peers.js'

const BACKEND = 'hypercore'

/** One log's core as this process holds it: a session kept open between resolves (a warm reader). */
export interface Feed {
  name: string
  core: Hypercore
  memory: FeedMemory
  /** A session opened with the owner's key pair, once this process published. */
  writer?: Hypercore
  /** Set when a wait for peers timed out: the next refresh looks peers up even if some are connected. */
  rediscover?: boolean
}

/** True when this process can append to the feed: its own log, answered from local storage. */
export function isOwn (feed: Feed): boolean {
  return feed.writer !== undefined || feed.core.writable || feed.memory.own === true
}

function wrap (name: string, what: string, error: unknown, memory: FeedMemory): Error {
  if (memory.equivocation !== undefined) return equivocationError(name, memory.equivocation)
  if (isRemoteLogError(error)) return error
  return fail('UNAVAILABLE', `${what} for hypercore:${name} failed`, { backend: BACKEND, cause: error })
}

/**
 * After a wait for peers timed out: closes the connections of peers that answered nothing (see
 * `dropSilentPeers`: Hypercore would keep asking them for as long as they stay connected) and has
 * the next refresh look peers up again, so a long-lived reader reaches a seeder or the writer anew.
 */
function afterTimeout (feed: Feed, silent: () => Parameters<typeof dropSilentPeers>[0]): void {
  dropSilentPeers(silent())
  feed.rediscover = true
}

/**
 * Asks peers for the core's newest length: joins its discovery topic (client), looks peers up when
 * none is connected, and waits for their answer — all within `deadline`. A reader that already has
 * a value keeps it when no peer answers in time; one that has nothing gets UNAVAILABLE.
 */
export async function refreshFromPeers (peer: HypercorePeer, feed: Feed, deadline: Deadline, force = false): Promise<void> {
  const { core, name } = feed
  const first = !peer.joined(core)
  const discovery = peer.join(core, { server: force, client: true })
  let found: (() => void) | undefined
  if (first || core.peers.length === 0 || feed.rediscover === true) {
    feed.rediscover = false
    found = core.findingPeers()
    const lookup = first ? peer.swarm.flush() : discovery.refresh().then(async () => await peer.swarm.flush())
    lookup.catch(() => {}).finally(found)
  }
  const activeRequests: unknown[] = []
  const silent = silentPeerProbe(core)
  try {
    await deadline.race(core.update({ wait: true, force, activeRequests }), `finding peers for hypercore:${name}`,
      error => core.clearRequests(activeRequests, error))
  } catch (error) {
    if (isRemoteLogError(error, 'ABORTED')) throw error
    if (isRemoteLogError(error, 'TIMEOUT')) {
      afterTimeout(feed, silent)
      if (core.length > 0) return
      throw fail('UNAVAILABLE', `no peer answered for hypercore:${name} within ${deadline.ms} ms`, { backend: BACKEND, cause: error })
    }
    throw wrap(name, 'update', error, feed.memory)
  } finally {
    found?.()
  }
}

/** Reads and decodes the newest head in the core (block `length - 1`), fetching it within `deadline`. */
export async function newestHead (feed: Feed, deadline: Deadline): Promise<{ index: number, head: ResolvedHead } | undefined> {
  const { core, name } = feed
  if (feed.memory.equivocation !== undefined) throw equivocationError(name, feed.memory.equivocation)
  if (core.length === 0) return undefined
  const index = core.length - 1
  const activeRequests: unknown[] = []
  const silent = silentPeerProbe(core)
  let block: Buffer | null
  try {
    block = await deadline.race(core.get(index, { timeout: deadline.remaining(), activeRequests }), `reading the head of hypercore:${name}`,
      error => core.clearRequests(activeRequests, error))
  } catch (error) {
    const timedOut = (error as { code?: string }).code === 'REQUEST_TIMEOUT' || isRemoteLogError(error, 'TIMEOUT')
    if (timedOut) afterTimeout(feed, silent)
    if ((error as { code?: string }).code === 'REQUEST_TIMEOUT') {
      throw fail('TIMEOUT', `reading the head of hypercore:${name} took longer than ${deadline.ms} ms`, { backend: BACKEND, cause: error })
    }
    throw wrap(name, 'get', error, feed.memory)
  }
  if (block === null) throw fail('UNAVAILABLE', `block ${index} of hypercore:${name} is not available`, { backend: BACKEND })
  try {
    return { index, head: decodePointer(block) }
  } catch (cause) {
    throw fail('MALFORMED', `block ${index} of hypercore:${name} is not a remotelog head record`, { backend: BACKEND, cause })
  }
}

/** Replication peers of a core, as far as `noHead` looks at them (`core.peers[i]`, untyped upstream). */
interface SyncedPeer {
  /** True once the peer told us its length for this core (its first `sync` message arrived). */
  remoteSynced: boolean
}

/**
 * The error for a core with no block. NOT_FOUND ("nothing published yet") only when this is
 * known: the core is this process's own, or a peer answered that it holds no block either (a
 * writer's or seeder's empty core). When no peer answered — none found on the DHT, or connections
 * that never said a word (holepunchto/hyperdht#304) — nobody can tell an unpublished log from one
 * whose writer and seeders are offline: UNAVAILABLE, so a follower's sync fails instead of
 * reporting `published: false`.
 */
function noHead (feed: Feed): Error {
  const peers = feed.core.peers as SyncedPeer[]
  const answered = peers.filter(peer => peer.remoteSynced).length
  const details = { name: feed.name, peers: peers.length, answered }
  if (isOwn(feed)) return fail('NOT_FOUND', `nothing is published at hypercore:${feed.name} yet (this is its writer)`, { backend: BACKEND, details })
  if (answered > 0) return fail('NOT_FOUND', `nothing is published at hypercore:${feed.name} yet: ${answered} peer(s) answered without a head`, { backend: BACKEND, details })
  const found = peers.length === 0 ? 'none found on the DHT' : `${peers.length} connected, none answered`
  return fail('UNAVAILABLE', `no peer answered for hypercore:${feed.name} (${found}): its writer and seeders may be offline, or nothing was published`, { backend: BACKEND, details })
}

/**
 * Resolves a feed: refreshes from peers unless it is our own (or `network` is false), reads the
 * newest head, applies the rollback policy and remembers what it accepted. An empty core fails with
 * NOT_FOUND or UNAVAILABLE (see `noHead`).
 */
export async function resolveFeed (peer: HypercorePeer, feed: Feed, deadline: Deadline, network = true): Promise<ResolvedHead> {
  if (feed.memory.equivocation !== undefined) throw equivocationError(feed.name, feed.memory.equivocation)
  if (network && !isOwn(feed)) await refreshFromPeers(peer, feed, deadline)
  const newest = await newestHead(feed, deadline)
  if (newest === undefined) throw noHead(feed)
  checkForward(feed.name, feed.memory, feed.core, newest.index, newest.head)
  await rememberSeen(feed.core, feed.memory, {
    fork: feed.core.fork, index: newest.index, revision: newest.head.revision, head: newest.head.head.toString()
  }).catch(() => {})
  return newest.head
}
