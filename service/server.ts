import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { timingSafeEqual } from 'node:crypto'
import { once, setMaxListeners } from 'node:events'
import type { DescMethod } from '@bufbuild/protobuf'
import { createContextValues, createServiceImplSpec, type ContextValues } from '@connectrpc/connect'
import type { ContentStore } from '../core/content-store.js'
import { fail } from '../core/errors.js'
import type { RecordNameSystem } from '../adapters/ns/record-ns.js'
import { CAS } from '../proto/gen/vac/cas/cas_pb.js'
import { NS } from '../proto/gen/vac/ns/ns_pb.js'
import { casService } from './cas-service.js'
import { CLIENT_KEY, nsLimits, nsMaxBodyBytes, nsService, type NsLimits } from './ns-service.js'
import { clientKey } from './rate-limit.js'
import { toTwirpError } from './error-codes.js'
import { DEFAULT_MAX_BODY_BYTES } from './limits.js'
import { answerTwirp, pickRoute, twirpErrorAnswer, twirpRoutes, type TwirpAnswer, type TwirpCall, type TwirpRoute } from './twirp-protocol.js'
import { isTwirpError, TwirpError } from './twirp-wire.js'
import { WaitSlots } from './wait-slots.js'

export interface ServiceOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string
  /** Port; 0 (the default) picks a free one. */
  port?: number
  cas: ContentStore
  /** A name system of signed records (local, memory): the server checks every Update with it. */
  ns: RecordNameSystem
  /**
   * When set, CAS Add and Release need `Authorization: Bearer <writeToken>`. Reads stay open; NS
   * Update (signed) too, unless `tokenCoversNs`.
   */
  writeToken?: string
  /** NS Update needs the write token as well (default false: a signed update is accepted from anyone). */
  tokenCoversNs?: boolean
  /**
   * Bounds on what NS clients can make the service store: record size (default 10 KiB), names in all
   * (10 000), new names per client per minute (60), updates per name per second (10, bursts of 5 s worth);
   * and on the long-polling Fetches it holds: each at most 25 s, 32 per client, 1 000 in all.
   */
  nsLimits?: Partial<NsLimits>
  /** How many names the NS already holds, asked once at start, so `nsLimits.maxNames` counts them too. */
  countStoredNames?: () => Promise<number>
  /** Largest request body; default 2 MiB. */
  maxBodyBytes?: number
  /** A request (headers and body) must arrive within this; slow clients are cut off. Default 30 s. */
  requestTimeoutMs?: number
  /** Idle keep-alive connections close after this. Default 5 s. */
  keepAliveTimeoutMs?: number
  /** `close()` waits this long for in-flight requests before cancelling them (held long-polls answer at once). Default 10 s. */
  shutdownGraceMs?: number
  /** Called with errors that became `internal` responses (their details are not sent to clients). */
  onInternalError?: (error: unknown) => void
}

export interface RunningService {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  /** Requests being handled now. */
  readonly inFlight: number
  /** Open client connections. */
  readonly connections: number
  /** Long-polling NS Fetches held now. */
  readonly waiting: number
  /** Stops accepting, lets in-flight requests finish (up to the grace time), closes every connection. */
  close (): Promise<void>
}

/**
 * Starts the remote log service (SPEC §6): `vac.cas.CAS` and `vac.ns.NS` over Twirp on HTTP/1.1,
 * plus `GET /healthz`. The backends stay open after `close()`: they belong to the caller.
 * @example
 * const service = await startService({ cas: memoryCas(), ns: memoryNs() })
 * await fetch(`${service.url}/twirp/vac.cas.CAS/Add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":"aGk="}' })
 * await service.close()
 */
export async function startService (options: ServiceOptions): Promise<RunningService> {
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const limits = nsLimits(options.nsLimits)
  if (options.tokenCoversNs === true && (options.writeToken === undefined || options.writeToken === '')) {
    throw fail('INVALID_CONFIG', 'tokenCoversNs needs a writeToken: NS updates cannot require a token that does not exist (serve --token T --token-covers-ns)', { backend: 'twirp' })
  }
  const storedNames = await options.countStoredNames?.() ?? 0
  // Aborted as soon as close() starts: held long-polls answer at once instead of holding the shutdown.
  const stopping = new AbortController()
  setMaxListeners(0, stopping.signal)
  const waits = new WaitSlots(limits.maxWaits, limits.waitsPerClient)
  const twirpOptions = {
    toTwirpError: (e: unknown) => {
      const error = toTwirpError(e)
      if (error.code === 'internal') options.onInternalError?.(e)
      return error
    },
    requestGate: writeGate(options.writeToken, options.tokenCoversNs === true)
  }
  const routes = new Map<string, TwirpRoute>()
  for (const route of [
    ...twirpRoutes(createServiceImplSpec<typeof CAS>(CAS, casService(options.cas, { ns: options.ns })), maxBodyBytes),
    // NS messages are small: their bodies are refused past what the largest record needs.
    ...twirpRoutes(createServiceImplSpec<typeof NS>(NS, nsService(options.ns, { limits, storedNames, waits, stopping: stopping.signal })),
      Math.min(maxBodyBytes, nsMaxBodyBytes(limits)))
  ]) routes.set(route.requestPath, route)

  let draining = false
  let inFlight = 0
  const idleWaiters = new Set<() => void>()
  const sockets = new Set<Socket>()
  // What each open connection's requests are counted under (its client's address, see clientKey).
  const clients = new WeakMap<Socket, string>()
  // One per request being handled: aborted when its client goes away, or when close() gives up on it.
  const cancels = new Set<AbortController>()

  async function handle (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = req.url ?? ''
    const query = url.indexOf('?')
    const path = query === -1 ? url : url.slice(0, query)
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json', ...(draining ? { connection: 'close' } : {}) })
      res.end(draining ? '{"status":"stopping"}' : '{"status":"ok"}')
      return
    }
    const route = pickRoute(routes, req.method ?? '', path, req.headers['content-type'] ?? null)
    send(res, isTwirpError(route)
      ? twirpErrorAnswer(route, true)
      : draining
        ? twirpErrorAnswer(new TwirpError('unavailable', 'the service is shutting down'), true)
        : await answerTwirp(route, new NodeCall(req, url, signal, clients.get(req.socket) ?? clientKey(req.socket.remoteAddress)), twirpOptions))
  }

  function send (res: ServerResponse, answer: TwirpAnswer): void {
    if (res.destroyed) return
    // The answer in one write: headers and body leave in the same segment.
    if (answer.close || draining) answer.headers.connection = 'close'
    res.writeHead(answer.status, answer.headers)
    res.end(answer.body)
  }

  const server = createServer({
    requestTimeout,
    headersTimeout: Math.min(10_000, requestTimeout),
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
    // How often Node checks requestTimeout/headersTimeout (30 s by default: too coarse for slow clients).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeout / 2)))
  }, (req, res) => {
    inFlight++
    const cancel = new AbortController()
    cancels.add(cancel)
    res.once('close', () => {
      cancels.delete(cancel)
      // Closed before the whole answer was handed to the socket: the client went away.
      if (!res.writableFinished) cancel.abort(fail('ABORTED', 'the client went away before its answer was sent'))
      if (--inFlight === 0) for (const wake of idleWaiters) wake()
    })
    handle(req, res, cancel.signal).catch((e: unknown) => {
      // A bug above: answer `internal` (reported) if the answer has not started, else cut the connection.
      options.onInternalError?.(e)
      if (!res.headersSent && !res.destroyed) {
        const error = toTwirpError(e)
        res.writeHead(error.status, { 'content-type': 'application/json', connection: 'close' }).end(error.toJson())
      } else {
        res.destroy()
      }
    })
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    clients.set(socket, clientKey(socket.remoteAddress))
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
    else socket.destroy()
  })

  server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  try {
    await once(server, 'listening')
  } catch (cause) {
    throw fail('UNAVAILABLE', `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}`, { backend: 'twirp', cause })
  }
  const address = server.address()
  if (address === null || typeof address === 'string') throw fail('UNAVAILABLE', 'server has no TCP address', { backend: 'twirp' })
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address

  /** Resolves once no request is in flight, or after `ms`. */
  async function idle (ms: number): Promise<void> {
    if (inFlight === 0) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>(resolve => {
      idleWaiters.add(resolve)
      timer = setTimeout(resolve, ms)
    })
    clearTimeout(timer)
    idleWaiters.clear()
  }

  let closing: Promise<void> | undefined
  async function close (): Promise<void> {
    draining = true
    stopping.abort()
    const closed = new Promise<void>(resolve => server.close(() => resolve()))
    server.closeIdleConnections()
    await idle(options.shutdownGraceMs ?? 10_000)
    if (inFlight > 0) {
      // Cancel what is left, and give the cancelled requests a moment to send their error.
      const reason = fail('UNAVAILABLE', 'the service stopped before this request finished')
      for (const cancel of cancels) cancel.abort(reason)
      await idle(250)
    }
    server.closeAllConnections()
    // Destroyed sockets report 'close' a tick later; wait for that so `connections` reads 0 after close().
    await Promise.all([...sockets].map(async socket => {
      const gone = once(socket, 'close')
      socket.destroy()
      await gone
    }))
    await closed
  }

  return {
    url: `http://${host}:${address.port}`,
    get inFlight () { return inFlight },
    get connections () { return sockets.size },
    get waiting () { return waits.held },
    async close () { await (closing ??= close()) }
  }
}

function writeGate (token: string | undefined, coversNs: boolean): ((method: DescMethod, header: (name: string) => string | undefined) => void) | undefined {
  if (token === undefined || token === '') return undefined
  const expected = Buffer.from(token)
  return (method, header) => {
    const what = method === CAS.method.add || method === CAS.method.release ? 'CAS writes' : coversNs && method === NS.method.update ? 'NS updates' : undefined
    if (what === undefined) return
    const match = /^Bearer\s+(\S+)$/i.exec(header('authorization') ?? '')
    const given = Buffer.from(match?.[1] ?? '')
    if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) {
      throw new TwirpError('unauthenticated', `${what} on this service need a valid bearer token`)
    }
  }
}

/** A Node request as a Twirp call: headers read where Node parsed them, the body read from the request stream. */
class NodeCall implements TwirpCall {
  readonly values: ContextValues
  constructor (private readonly req: IncomingMessage, readonly url: string, readonly signal: AbortSignal, client: string) {
    this.values = createContextValues().set(CLIENT_KEY, client)
  }

  get httpMethod (): string { return this.req.method ?? '' }
  get contentType (): string | undefined { return this.req.headers['content-type'] }

  header (name: string): string | undefined {
    const value = this.req.headers[name]
    return Array.isArray(value) ? value.join(', ') : value
  }

  headers (): Headers {
    const headers = new Headers()
    const raw = this.req.rawHeaders
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1])
    return headers
  }

  async readBody (limit: number): Promise<Uint8Array> { return await readBody(this.req, limit) }
}

/**
 * The request body, whole; TOO_LARGE as soon as it passes `limit` (the rest is left unread and the
 * answer closes the connection), ABORTED when the client goes away before sending all of it.
 */
async function readBody (req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onGone)
      req.off('close', onGone)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size > limit) {
        done()
        req.pause()
        reject(fail('TOO_LARGE', `request body exceeds the ${limit}-byte limit`))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      done()
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    }
    const onGone = (): void => {
      done()
      reject(fail('ABORTED', 'the client went away before sending the whole request'))
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onGone)
    req.once('close', onGone)
  })
}
