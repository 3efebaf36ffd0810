import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fail, isRemoteLogError } from '../core/errors.js'

/** What `POST /keep` answers: what the devnet now holds of the log. */
export interface KeepResult {
  address: string
  /** The Hypercore seeder's replica (hypercore addresses only). */
  seeded?: { length: number, hasHead: boolean, head?: string }
  /** What the always-on IPFS node pinned (when asked to pin). */
  pinned?: { length: number, head?: string }
}

export interface KeepRequest {
  address: string
  /** Fetch and pin the log's blocks on the devnet's Helia node (logs whose CAS is `helia`). */
  pin?: boolean
}

export interface ControlHandlers {
  status: () => unknown
  keep: (request: KeepRequest, signal: AbortSignal) => Promise<KeepResult>
  /** Fetches one block from `origins` and pins it on the devnet's Helia node. */
  pin: (cid: string, origins: string[], signal: AbortSignal) => Promise<void>
}

const MAX_BODY = 64 * 1024
const STATUS: Record<string, number> = { INVALID_INPUT: 400, NOT_FOUND: 404, TIMEOUT: 504, UNAVAILABLE: 503 }

async function body (request: IncomingMessage): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > MAX_BODY) throw fail('TOO_LARGE', `request body over ${MAX_BODY} bytes`)
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (cause) {
    throw fail('INVALID_INPUT', 'the body is not JSON', { cause })
  }
}

function send (response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

/**
 * The devnet's control API on 127.0.0.1: `GET /status` (the settings), `POST /keep`
 * (`{ "address": "hypercore:…", "pin": true }`: the devnet seeds / pins the log so readers get it
 * while its writer is offline) and `POST /pins` (`{ "cid", "origins" }`: the Helia node fetches
 * and pins one block, as the IPFS Pinning Service API's call does). Errors answer
 * `{ error: { code, message } }`.
 * @example
 * const control = await startControlServer({ status: () => settings, keep })
 * await keepLog(control.url, 'hypercore:yuq…')
 */
export async function startControlServer (handlers: ControlHandlers, port = 0): Promise<{ url: string, close: () => Promise<void> }> {
  const inFlight = new Set<AbortController>()
  const server = createServer((request, response) => {
    const controller = new AbortController()
    inFlight.add(controller)
    void (async () => {
      try {
        if (request.method === 'GET' && request.url === '/status') return send(response, 200, handlers.status())
        if (request.method === 'POST' && request.url === '/keep') {
          const input = await body(request) as Partial<KeepRequest>
          if (typeof input?.address !== 'string') throw fail('INVALID_INPUT', 'POST /keep needs { "address": "<scheme>:<name>" }')
          return send(response, 200, await handlers.keep({ address: input.address, pin: input.pin === true }, controller.signal))
        }
        if (request.method === 'POST' && request.url === '/pins') {
          const input = await body(request) as { cid?: unknown, origins?: unknown }
          const origins = Array.isArray(input?.origins) ? input.origins.filter((o): o is string => typeof o === 'string') : []
          if (typeof input?.cid !== 'string') throw fail('INVALID_INPUT', 'POST /pins needs { "cid": "bafk…", "origins": ["/ip4/…/p2p/…"] }')
          await handlers.pin(input.cid, origins, controller.signal)
          return send(response, 200, { cid: input.cid, status: 'pinned' })
        }
        send(response, 404, { error: { code: 'NOT_FOUND', message: `no route ${request.method ?? ''} ${request.url ?? ''} (GET /status, POST /keep, POST /pins)` } })
      } catch (e) {
        const code = isRemoteLogError(e) ? e.code : 'UNAVAILABLE'
        send(response, STATUS[code] ?? 400, { error: { code, message: e instanceof Error ? e.message : String(e) } })
      } finally {
        inFlight.delete(controller)
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const { port: bound } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${bound}`,
    async close () {
      for (const c of inFlight) c.abort()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/**
 * Asks a running devnet to keep a log available while its writer is offline: the Hypercore seeder
 * replicates `hypercore:` logs, and with `pin` the always-on IPFS node pins the log's blocks.
 * Resolves once the devnet holds the log's current head.
 * @example await keepLog(settings.control.url, await alice.address(), { pin: true })
 */
export async function keepLog (controlUrl: string, address: string, options: { pin?: boolean, timeoutMs?: number } = {}): Promise<KeepResult> {
  let response: Response
  try {
    response = await fetch(`${controlUrl}/keep`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ address, pin: options.pin === true }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000)
    })
  } catch (cause) {
    throw fail('UNAVAILABLE', `the devnet at ${controlUrl} does not answer (is it running?)`, { cause })
  }
  const answer = await response.json().catch(() => undefined) as (KeepResult & { error?: { code: string, message: string } }) | undefined
  if (!response.ok || answer === undefined) {
    const code = answer?.error?.code
    throw fail(code === 'INVALID_INPUT' || code === 'NOT_FOUND' || code === 'TIMEOUT' ? code : 'UNAVAILABLE', `devnet could not keep ${address}: ${(answer?.error?.message ?? response.statusText).replace(/^\[remotelog\] (\[[^\]]+\] )?/, '')}`)
  }
  return answer
}
