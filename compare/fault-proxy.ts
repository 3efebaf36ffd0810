import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that puts network faults between a client and a backend: outages
 * (connections refused, or accepted and never answered), added latency, a connection reset in the
 * middle of a response, and a response cut short with a clean close. It knows nothing of the
 * protocol on top (HTTP, JSON-RPC, libp2p), so it sits in front of any backend the devnet starts.
 *
 * Why not Toxiproxy: its npm client needs the Toxiproxy server, a Go binary that is neither in
 * Debian nor in an npm package, and is otherwise had from GitHub releases or Docker.
 * @example
 * const proxy = await startFaultProxy({ target: service.url })
 * const config = remoteConfig(proxy.url)
 * await proxy.outage(3000)               // 3 s of refused connections, then back
 * proxy.resetAfter(100, { match: /CAS\/Get/ }) // the next CAS Get's response is reset after 100 bytes
 * await proxy.close()
 */
export interface FaultProxy {
  readonly host: string
  readonly port: number
  /** `http://127.0.0.1:<port>`: the target's URL with the proxy in front. */
  readonly url: string
  /** The target's `host:port`. */
  readonly target: string
  /** True while an outage lasts. */
  readonly down: boolean
  /** What went through and what was done to it. */
  readonly stats: FaultStats
  /**
   * Starts an outage: `refuse` (default) stops listening, so connecting fails at once
   * (ECONNREFUSED), and resets every open connection; `blackhole` accepts connections but
   * forwards nothing either way (clients see timeouts). Resolves once it began.
   */
  goDown (mode?: 'refuse' | 'blackhole'): Promise<void>
  /** Ends an outage: listens again on the same port (blackholed connections are reset). */
  comeUp (): Promise<void>
  /** An outage of `ms`, then back up; resolves when it is over. */
  outage (ms: number, mode?: 'refuse' | 'blackhole'): Promise<void>
  /** Delays every chunk, each way, by `ms` (0: no delay). Order is kept. */
  latency (ms: number): void
  /**
   * The next `times` responses (default 1) whose request matches `match` (any, when absent;
   * tested against the first 2 KiB of the request as Latin-1) are cut after `bytes` bytes with a
   * TCP reset of both sides.
   */
  resetAfter (bytes: number, options?: FaultMatch): void
  /** Like `resetAfter`, but the connection is closed cleanly (FIN): a truncated response. */
  truncateAfter (bytes: number, options?: FaultMatch): void
  /** Drops armed resets and truncations, ends latency. Does not end an outage. */
  clear (): void
  close (): Promise<void>
}

export interface FaultMatch {
  match?: RegExp | ((requestHead: string) => boolean)
  times?: number
}

export interface FaultStats {
  connections: number
  /** Connections reset by an outage. */
  dropped: number
  resets: number
  truncations: number
  bytesUp: number
  bytesDown: number
}

interface ArmedCut { kind: 'reset' | 'truncate', bytes: number, match?: FaultMatch['match'], times: number }

interface Link {
  client: Socket
  upstream: Socket
  /** The cut the response now coming down will get, and its bytes so far. */
  cut?: ArmedCut
  sent: number
  held: boolean
}

function parseTarget (target: string | { host: string, port: number }): { host: string, port: number } {
  if (typeof target !== 'string') return target
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? new URL(target) : new URL(`tcp://${target}`)
  const port = Number(url.port !== '' ? url.port : url.protocol === 'https:' ? 443 : 80)
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port }
}

/** Starts a fault proxy in front of `target` (a URL, `host:port`, or `{ host, port }`). */
export async function startFaultProxy (options: { target: string | { host: string, port: number }, port?: number }): Promise<FaultProxy> {
  const target = parseTarget(options.target)
  const links = new Set<Link>()
  const stats: FaultStats = { connections: 0, dropped: 0, resets: 0, truncations: 0, bytesUp: 0, bytesDown: 0 }
  let armed: ArmedCut[] = []
  let delayMs = 0
  let mode: 'up' | 'refuse' | 'blackhole' = 'up'
  let closed = false
  let server: Server | undefined
  let port = options.port ?? 0

  /** Writes `chunk` to `to` after the added latency, keeping the order of earlier chunks. */
  const queues = new WeakMap<Socket, Promise<void>>()
  function send (to: Socket, chunk: Buffer, then?: () => void): void {
    const write = (): void => {
      if (!to.destroyed) to.write(chunk)
      then?.()
    }
    if (delayMs === 0 && queues.get(to) === undefined) { write(); return }
    const wait = delayMs
    const previous = queues.get(to) ?? Promise.resolve()
    const next = previous.then(async () => { await new Promise(resolve => setTimeout(resolve, wait)); write() })
    queues.set(to, next)
    void next.then(() => { if (queues.get(to) === next) queues.delete(to) })
  }

  function pickCut (head: string): ArmedCut | undefined {
    const i = armed.findIndex(a => a.match === undefined || (typeof a.match === 'function' ? a.match(head) : a.match.test(head)))
    if (i < 0) return undefined
    const cut = armed[i]
    if (--cut.times <= 0) armed.splice(i, 1)
    return { ...cut }
  }

  function drop (link: Link): void {
    links.delete(link)
    link.client.resetAndDestroy()
    link.upstream.resetAndDestroy()
  }

  function accept (client: Socket): void {
    stats.connections++
    client.on('error', () => {})
    const upstream = createConnection({ host: target.host, port: target.port })
    upstream.on('error', () => { if (!client.destroyed) client.resetAndDestroy() })
    const link: Link = { client, upstream, sent: 0, held: mode === 'blackhole' }
    links.add(link)
    client.on('close', () => { links.delete(link); if (!upstream.destroyed) upstream.destroy() })
    upstream.on('close', () => { links.delete(link); if (!client.destroyed) client.end() })
    client.on('end', () => { upstream.end() })

    client.on('data', (chunk: Buffer) => {
      if (link.held) return
      stats.bytesUp += chunk.byteLength
      // A new request: the response that follows may be the one to cut.
      link.sent = 0
      link.cut = pickCut(chunk.subarray(0, 2048).toString('latin1'))
      send(upstream, chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (link.held) return
      const cut = link.cut
      if (cut === undefined || link.sent + chunk.byteLength <= cut.bytes) {
        link.sent += chunk.byteLength
        stats.bytesDown += chunk.byteLength
        send(client, chunk)
        return
      }
      const keep = chunk.subarray(0, Math.max(0, cut.bytes - link.sent))
      link.cut = undefined
      link.held = true // nothing more goes through this connection
      stats.bytesDown += keep.byteLength
      send(client, keep, () => {
        links.delete(link)
        if (cut.kind === 'reset') {
          stats.resets++
          client.resetAndDestroy()
          upstream.resetAndDestroy()
        } else {
          stats.truncations++
          client.end()
          upstream.destroy()
        }
      })
    })
  }

  async function listen (): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const s = createServer(accept)
      s.listen(port, '127.0.0.1')
      try {
        await once(s, 'listening')
        server = s
        port = (s.address() as { port: number }).port
        return
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw e
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  }

  async function stopListening (): Promise<void> {
    const s = server
    server = undefined
    if (s === undefined) return
    await new Promise<void>(resolve => s.close(() => resolve()))
  }

  await listen()

  const proxy: FaultProxy = {
    host: '127.0.0.1',
    get port () { return port },
    get url () { return `http://127.0.0.1:${port}` },
    target: `${target.host}:${target.port}`,
    get down () { return mode !== 'up' },
    stats,
    async goDown (how = 'refuse') {
      mode = how
      if (how === 'refuse') {
        const closing = stopListening()
        for (const link of [...links]) { stats.dropped++; drop(link) }
        await closing
      } else {
        for (const link of links) link.held = true
      }
    },
    async comeUp () {
      if (closed) return
      const was = mode
      mode = 'up'
      if (was === 'blackhole') for (const link of [...links]) if (link.held) { stats.dropped++; drop(link) }
      if (server === undefined) await listen()
    },
    async outage (ms, how = 'refuse') {
      await proxy.goDown(how)
      await new Promise(resolve => setTimeout(resolve, ms))
      await proxy.comeUp()
    },
    latency (ms) { delayMs = Math.max(0, ms) },
    resetAfter (bytes, match = {}) { armed.push({ kind: 'reset', bytes, match: match.match, times: match.times ?? 1 }) },
    truncateAfter (bytes, match = {}) { armed.push({ kind: 'truncate', bytes, match: match.match, times: match.times ?? 1 }) },
    clear () { armed = []; delayMs = 0 },
    async close () {
      closed = true
      const closing = stopListening()
      for (const link of [...links]) drop(link)
      await closing
    }
  }
  return proxy
}
