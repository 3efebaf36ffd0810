import { WebSocketProvider, type Eip1193Provider, type SocketSubscriber } from 'ethers'
import type { Chain } from './ens-chain.js'
import type { Disarm } from './head-watch.js'

/** How `ensNs` hears of new blocks. */
export interface BlockFeedOptions {
  /** An EIP-1193 provider that emits `message` events (Hardhat's in-process one does): subscribed directly. */
  provider?: Eip1193Provider
  /** JSON-RPC URL; its WebSocket twin (ws:// for http://) is tried when `wsUrl` is not given. */
  rpcUrl?: string
  /** WebSocket JSON-RPC endpoint for `eth_subscribe`; `false` turns the subscription off (watch then polls). */
  wsUrl?: string | false
}

/** New blocks of one chain, shared by every watch of one ENS name system. */
export interface BlockFeed {
  /**
   * Calls `onBlock` on each new block until disarmed, `onBroken` once if the subscription dies.
   * Resolves, once the node confirmed the subscription, with the function that stops it; undefined
   * where the node offers no subscription (no WebSocket, no EIP-1193 events).
   */
  subscribe (onBlock: () => void, onBroken: () => void): Promise<Disarm | undefined>
  close (): void
}

/** How long watches poll after the node refused a subscription before it is asked again. */
const RETRY_MS = 2_000

interface Listener { onBlock: () => void, onBroken: () => void }
interface Source { close: () => void, readonly closed: boolean }
type EventfulProvider = Eip1193Provider & {
  on: (event: 'message', listener: (message: unknown) => void) => unknown
  removeListener: (event: 'message', listener: (message: unknown) => void) => unknown
}

/** The WebSocket URL for `eth_subscribe`: the given one, else the RPC URL's ws(s):// twin (Hardhat, Anvil, Geth serve both on one port). */
export function wsUrlOf (options: BlockFeedOptions): string | undefined {
  if (options.wsUrl === false) return undefined
  if (options.wsUrl !== undefined) return options.wsUrl
  return options.rpcUrl?.replace(/^http(s?):\/\//, 'ws$1://')
}

/**
 * One `eth_subscribe('newHeads')` per chain connection, opened on the first subscriber and closed
 * with the last: over the EIP-1193 provider's `message` events when it has them, else over a
 * WebSocket. A node that refuses (or a dropped socket) reports `onBroken`/undefined, and the
 * watches poll instead until a later subscribe succeeds (asked again at most every 2 s).
 * @example
 * const feed = blockFeed(options, () => connect())
 * const stop = await feed.subscribe(() => wake(), () => fallBackToPolling())
 */
export function blockFeed (options: BlockFeedOptions, chainOf: () => Promise<Chain>): BlockFeed {
  const listeners = new Set<Listener>()
  let source: Source | undefined
  let opening: Promise<Source | undefined> | undefined
  let closed = false
  // After a failed open, watches poll for a while before the node is asked again.
  let retryAt = 0

  const blocks = (): void => { for (const l of [...listeners]) l.onBlock() }
  const broken = (from: Source): void => {
    if (source !== from) return
    source = undefined
    const all = [...listeners]
    listeners.clear()
    for (const l of all) l.onBroken()
  }

  async function open (): Promise<Source | undefined> {
    const chain = await chainOf()
    const eip1193 = options.provider as Partial<EventfulProvider> | undefined
    if (options.rpcUrl === undefined && eip1193 !== undefined) {
      if (typeof eip1193.on !== 'function' || typeof eip1193.removeListener !== 'function') return undefined
      const id = await chain.bounded('eth_subscribe newHeads', async () => await eip1193.request!({ method: 'eth_subscribe', params: ['newHeads'] }) as string)
      const onMessage = (message: unknown): void => {
        const m = message as { type?: string, data?: { subscription?: string } }
        if (m?.type === 'eth_subscription' && m.data?.subscription === id) blocks()
      }
      eip1193.on('message', onMessage)
      let gone = false
      return {
        get closed () { return gone },
        close () {
          gone = true
          eip1193.removeListener!('message', onMessage)
          eip1193.request!({ method: 'eth_unsubscribe', params: [id] }).catch(() => {})
        }
      }
    }
    const url = wsUrlOf(options)
    if (url === undefined) return undefined
    const network = await chain.provider.getNetwork()
    const ws = new WebSocketProvider(url, network, { staticNetwork: network })
    const socket = ws.websocket as { onerror: ((e: unknown) => void) | null, onclose?: ((e: unknown) => void) | null }
    let fail: (e: unknown) => void = () => {}
    const failed = new Promise<never>((_resolve, reject) => { fail = reject })
    failed.catch(() => {})
    let done = false
    const me: Source = {
      get closed () { return done },
      close () {
        if (done) return
        done = true
        ws.destroy().catch(() => {})
      }
    }
    const lost = (e: unknown): void => {
      fail(e)
      me.close()
      broken(me)
    }
    socket.onerror = lost
    socket.onclose = lost
    try {
      const id = await chain.bounded('eth_subscribe newHeads over WebSocket', async () => await Promise.race([ws.send('eth_subscribe', ['newHeads']) as Promise<string>, failed]))
      // ethers routes eth_subscription messages to what is registered under the subscription id.
      ws._register(id, { _handleMessage: blocks } as unknown as SocketSubscriber)
      return me
    } catch {
      me.close()
      return undefined
    }
  }

  return {
    async subscribe (onBlock, onBroken) {
      if (closed) return undefined
      const listener = { onBlock, onBroken }
      if (source === undefined) {
        if (opening === undefined && performance.now() < retryAt) return undefined
        opening ??= open().catch(() => undefined).then(opened => {
          if (opened === undefined) retryAt = performance.now() + RETRY_MS
          return opened
        }).finally(() => { opening = undefined })
        const opened = await opening
        if (opened === undefined || opened.closed) return undefined
        if (closed) { opened.close(); return undefined }
        if (source === undefined) source = opened
        else if (source !== opened) opened.close()
      }
      const mine = source
      listeners.add(listener)
      return () => {
        if (!listeners.delete(listener) || listeners.size > 0 || source !== mine) return
        source = undefined
        mine.close()
      }
    },
    close () {
      closed = true
      listeners.clear()
      source?.close()
      source = undefined
    }
  }
}
