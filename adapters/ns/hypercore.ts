import { join } from 'node:path'
import type Hypercore from 'hypercore'
import type { BackendContext } from '../registry.js'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { encodePointer } from '../../core/head-pointer.js'
import { toCid } from '../../core/ids.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishOptions, PublishReceipt, ResolvedHead } from '../../core/name-system.js'
import { Deadline } from './hypercore-deadline.js'
import { isOwn, newestHead, refreshFromPeers, resolveFeed, type Feed } from './hypercore-feed.js'
import { equivocationError, isMarkedOwn, loadMemory, markOwn, rememberEquivocation } from './hypercore-guard.js'
import { coreKeyOf, coreKeyOfName, hypercoreKeyPair, manifestOf, nameOfCoreKey } from './hypercore-keys.js'
import { networkSettings, type HypercoreNetworkOptions } from './hypercore-options.js'
import { openPeer } from './hypercore-peer.js'
import { watchFeed } from './hypercore-watch.js'

const BACKEND = 'hypercore'

export interface HypercoreNsOptions extends HypercoreNetworkOptions {
  /** Corestore folder; default `<stateDir>/hypercore`. One process per folder. */
  storage?: string
  /** Announce this storage's own non-empty cores on the DHT at startup, so readers find them before the next publish. Default true. */
  announceOwn?: boolean
  /** How often a watcher with no connected peer looks peers up again, in ms. Default 2 000. */
  rediscoverMs?: number
}

/**
 * Hypercore feeds as a name system. A log's name is its core key in z-base-32
 * (`hypercore:<name>`); the core's key pair is derived from the owner's secret, so the name is the
 * same after a restart or in another state dir. Publish appends the head pointer record
 * (`encodePointer`) to the core; resolve joins the core's discovery topic, replicates sparsely and
 * reads the newest block. Every network wait is bounded by `timeoutMs`. A reader never follows a
 * core backwards (truncation → CONFLICT) and reports equivocation as CONFLICT.
 * @example
 * const ns = await hypercoreNs({ bootstrap: [{ host: '127.0.0.1', port: 49737 }], timeoutMs: 5000 }, { stateDir })
 * const name = await ns.nameOf(owner)
 * await ns.publish(name, { head, length: 10, revision: 1 }, owner)
 */
export async function hypercoreNs (options: HypercoreNsOptions, context?: BackendContext): Promise<NameSystem> {
  const settings = networkSettings(options)
  const storage = options.storage ?? (context !== undefined ? join(context.stateDir, 'hypercore') : undefined)
  if (storage === undefined) throw fail('INVALID_CONFIG', 'hypercore needs a storage folder (or a state dir)', { backend: BACKEND })
  const rediscoverMs = options.rediscoverMs ?? 2000
  const peer = await openPeer(storage, settings)
  const feeds = new Map<string, Promise<Feed>>()
  const publishing = new Map<string, Promise<unknown>>()
  const watchers = new Set<AbortController>()
  /** Writes in flight that `close` must wait for. */
  const notes = new Set<Promise<void>>()
  let closed = false

  function alive (): void {
    if (closed) throw fail('UNAVAILABLE', 'this hypercore name system is closed', { backend: BACKEND })
  }

  async function track (name: string, core: Hypercore): Promise<Feed> {
    await core.ready()
    const feed: Feed = { name, core, memory: await loadMemory(core) }
    core.on('conflict', (length, fork) => {
      feed.memory.equivocation = { length, fork }
      // The conflict closes every session of the core; note it through a fresh one.
      const note = (async () => {
        const session = peer.store.get({ key: core.key })
        try {
          await session.ready()
          await rememberEquivocation(session, { length, fork })
        } finally {
          await session.close()
        }
      })().catch(() => {})
      notes.add(note)
      void note.finally(() => notes.delete(note))
    })
    return feed
  }

  async function feedOf (name: string): Promise<Feed> {
    alive()
    let feed = feeds.get(name)
    if (feed === undefined) {
      const key = coreKeyOfName(name)
      feed = track(name, peer.store.get({ key }))
      feeds.set(name, feed)
      feed.catch(() => feeds.delete(name))
    }
    try {
      return await feed
    } catch (cause) {
      if (isRemoteLogError(cause)) throw cause
      throw fail('UNAVAILABLE', `cannot open hypercore:${name}`, { backend: BACKEND, cause })
    }
  }

  async function announce (feed: Feed, deadline: Deadline): Promise<boolean> {
    try {
      await deadline.race(peer.join(feed.core, { server: true, client: true }).flushed(), `announcing hypercore:${feed.name}`)
      return true
    } catch (e) {
      if (isRemoteLogError(e, 'ABORTED')) throw e
      return false
    }
  }

  // Own cores of an earlier run are served again without waiting for their next publish.
  const background = new AbortController()
  const announcing = options.announceOwn === false
    ? Promise.resolve()
    : (async () => {
        for await (const discoveryKey of peer.store.list()) {
          if (closed) return
          const core = peer.store.get({ discoveryKey })
          await core.ready()
          if (core.length === 0 || !(core.writable || await isMarkedOwn(core))) {
            await core.close()
            continue
          }
          const name = nameOfCoreKey(core.key)
          if (!feeds.has(name)) feeds.set(name, track(name, core))
          await announce(await feeds.get(name)!, new Deadline(settings.timeoutMs, background.signal))
        }
      })().catch(() => {})

  async function writerOf (feed: Feed, owner: OwnerKey): Promise<Hypercore> {
    if (feed.writer === undefined) {
      const keyPair = hypercoreKeyPair(owner)
      const writer = peer.store.get({ keyPair, manifest: manifestOf(keyPair) })
      await writer.ready()
      // A core a reader opened first is stored without the key pair; the mark lets a restart find it.
      await markOwn(writer)
      feed.writer = writer
    }
    return feed.writer
  }

  async function publishNow (name: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions): Promise<PublishReceipt> {
    const feed = await feedOf(name)
    if (feed.memory.equivocation !== undefined) throw equivocationError(name, feed.memory.equivocation)
    const deadline = new Deadline(settings.timeoutMs, publishOptions.signal)
    const writer = await writerOf(feed, owner)
    if (writer.length === 0) {
      // A fresh storage for an existing name: learn the core's history from peers first, or the
      // append would fork the feed (equivocation) for everyone who saw the old one.
      try {
        await refreshFromPeers(peer, feed, deadline, true)
      } catch (cause) {
        if (!isRemoteLogError(cause, 'NOT_FOUND')) {
          throw fail('UNAVAILABLE', `cannot check whether hypercore:${name} already has a history; not publishing`, { backend: BACKEND, cause })
        }
      }
    }
    const existing = (await newestHead(feed, deadline))?.head
    if (existing !== undefined) {
      if (publishOptions.previous === undefined || !existing.head.equals(publishOptions.previous)) {
        throw fail('CONFLICT', `hypercore:${name} moved to ${existing.head.toString()} since this writer's last publish`, { backend: BACKEND })
      }
      if (existing.revision !== undefined && record.revision <= existing.revision) {
        throw fail('CONFLICT', `revision ${record.revision} for hypercore:${name} is not above the current ${existing.revision}`, { backend: BACKEND })
      }
    }
    deadline.check()
    try {
      await writer.append(Buffer.from(encodePointer(record)))
    } catch (cause) {
      if (feed.memory.equivocation !== undefined) throw equivocationError(name, feed.memory.equivocation)
      throw fail('UNAVAILABLE', `cannot append to hypercore:${name}`, { backend: BACKEND, cause })
    }
    const announced = await announce(feed, deadline)
    return { blocks: writer.length, fork: writer.fork, announced }
  }

  return {
    backend: BACKEND,
    scheme: 'hypercore',
    capabilities: { watch: true, records: true },

    async nameOf (owner: OwnerKey): Promise<string> {
      return nameOfCoreKey(coreKeyOf(hypercoreKeyPair(owner)))
    },

    async publish (name, record, owner, publishOptions = {}) {
      alive()
      coreKeyOfName(name)
      if (nameOfCoreKey(coreKeyOf(hypercoreKeyPair(owner))) !== name) {
        throw fail('PERMISSION', `hypercore:${name} belongs to another key pair`, { backend: BACKEND })
      }
      if (!Number.isSafeInteger(record?.revision) || record.revision < 0 || !Number.isSafeInteger(record.length) || record.length < 0) {
        throw fail('INVALID_INPUT', 'a head record needs a non-negative integer length and revision', { backend: BACKEND })
      }
      toCid(record.head)
      // One publish per name at a time, so the compare-and-swap checks see each other's appends.
      const before = publishing.get(name) ?? Promise.resolve()
      const run = before.catch(() => {}).then(async () => await publishNow(name, record, owner, publishOptions))
      publishing.set(name, run)
      try {
        return await run
      } finally {
        if (publishing.get(name) === run) publishing.delete(name)
      }
    },

    async resolve (name: string, callOptions: CallOptions = {}): Promise<ResolvedHead> {
      const feed = await feedOf(name)
      return await resolveFeed(peer, feed, new Deadline(settings.timeoutMs, callOptions.signal))
    },

    watch (name: string, watchOptions: CallOptions): AsyncIterable<ResolvedHead> {
      const controller = new AbortController()
      const signal = watchOptions.signal !== undefined ? AbortSignal.any([watchOptions.signal, controller.signal]) : controller.signal
      return {
        [Symbol.asyncIterator]: () => {
          watchers.add(controller)
          const inner = (async function * () {
            try {
              const feed = await feedOf(name)
              yield * watchFeed(peer, feed, { signal, timeoutMs: settings.timeoutMs, rediscoverMs, own: () => isOwn(feed) })
            } finally {
              watchers.delete(controller)
            }
          })()
          return inner[Symbol.asyncIterator]()
        }
      }
    },

    async close () {
      if (closed) return
      closed = true
      for (const controller of watchers) controller.abort()
      background.abort()
      await announcing
      await Promise.allSettled([...publishing.values(), ...notes])
      await peer.close()
    }
  }
}
