import { isRemoteLogError } from '../../core/errors.js'
import type { ResolvedHead } from '../../core/name-system.js'
import { Deadline } from './hypercore-deadline.js'
import { resolveFeed, type Feed } from './hypercore-feed.js'
import type { HypercorePeer } from './hypercore-peer.js'

export interface WatchSettings {
  signal: AbortSignal
  timeoutMs: number
  /** While no peer is connected, look peers up again this often. */
  rediscoverMs: number
  /** True when the feed is this process's own (nothing to ask peers). */
  own: () => boolean
}

// Worth waiting through: the writer may come (back) online later.
const TRANSIENT = ['NOT_FOUND', 'UNAVAILABLE', 'TIMEOUT'] as const

/**
 * Yields the feed's current head, then each new head as Hypercore's `append` event reports it
 * (peers push new lengths to a replicating reader; no polling). A truncation or equivocation ends
 * the watch with CONFLICT. While no peer is connected it looks peers up every `rediscoverMs`.
 * @example for await (const head of watchFeed(peer, feed, settings)) console.log(head.head.toString())
 */
export async function * watchFeed (peer: HypercorePeer, feed: Feed, settings: WatchSettings): AsyncGenerator<ResolvedHead> {
  const { core } = feed
  const { signal } = settings
  let changed = true
  let network = true
  let wake: (() => void) | undefined
  const onChange = (): void => {
    changed = true
    wake?.()
  }
  core.on('append', onChange)
  core.on('truncate', onChange)
  core.on('close', onChange)
  signal.addEventListener('abort', onChange)
  let last: string | undefined
  try {
    while (!signal.aborted) {
      if (changed) {
        changed = false
        try {
          const head = await resolveFeed(peer, feed, new Deadline(settings.timeoutMs, signal), network)
          const id = `${head.revision ?? ''}:${head.head.toString()}`
          if (id !== last) {
            last = id
            yield head
          }
        } catch (error) {
          if (signal.aborted) return
          if (!TRANSIENT.some(code => isRemoteLogError(error, code))) throw error
        }
      }
      if (signal.aborted || changed) continue
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>(resolve => {
        wake = resolve
        timer = setTimeout(resolve, settings.rediscoverMs)
      })
      clearTimeout(timer)
      wake = undefined
      // Woken by the timer with no peer: look peers up again (the writer may have come back).
      network = !changed && !settings.own() && core.peers.length === 0
      if (network) changed = true
    }
  } finally {
    core.off('append', onChange)
    core.off('truncate', onChange)
    core.off('close', onChange)
    signal.removeEventListener('abort', onChange)
  }
}
