import { isIP } from 'node:net'
import type { HostPort } from 'hyperdht'
import { fail } from '../../core/errors.js'

const BACKEND = 'hypercore'

/** How a Hypercore peer finds others: the DHT to bootstrap from and how long any wait may take. */
export interface HypercoreNetworkOptions {
  /**
   * DHT bootstrap nodes, as `{ host, port }` or `'host:port'`. Required: remotelog never falls back
   * to the public bootstrap nodes (tests and the devnet use `hyperdht/testnet` on 127.0.0.1).
   */
  bootstrap: Array<HostPort | string>
  /** UDP address the DHT node binds; default 127.0.0.1 when every bootstrap node is loopback, else 0.0.0.0. */
  host?: string
  /** Upper bound in ms on every network wait (finding peers, `update`, `get`). Default 10 000. */
  timeoutMs?: number
}

/** Validated network settings. */
export interface NetworkSettings {
  bootstrap: HostPort[]
  host: string
  timeoutMs: number
}

function parseNode (node: unknown): HostPort {
  if (typeof node === 'string') {
    const at = node.lastIndexOf(':')
    return parseNode({ host: node.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(node.slice(at + 1)) })
  }
  const { host, port } = (node ?? {}) as Partial<HostPort>
  if (typeof host !== 'string' || host === '' || !Number.isInteger(port) || port! <= 0 || port! > 65535) {
    throw fail('INVALID_CONFIG', `hypercore bootstrap node must be { host, port } or "host:port", got ${JSON.stringify(node)}`, { backend: BACKEND })
  }
  return { host, port: port! }
}

function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))
}

/**
 * Checks the network options; INVALID_CONFIG without an explicit, non-empty bootstrap list.
 * @example const net = networkSettings({ bootstrap: ['127.0.0.1:49737'], timeoutMs: 3000 })
 */
export function networkSettings (options: Partial<HypercoreNetworkOptions> | undefined): NetworkSettings {
  const raw = options?.bootstrap
  if (!Array.isArray(raw) || raw.length === 0) {
    throw fail('INVALID_CONFIG', 'hypercore needs an explicit DHT bootstrap list (e.g. from `remotelog devnet`); refusing to use the public bootstrap nodes', { backend: BACKEND })
  }
  const bootstrap = raw.map(parseNode)
  const timeoutMs = options?.timeoutMs ?? 10_000
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw fail('INVALID_CONFIG', `hypercore timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`, { backend: BACKEND })
  }
  const host = options?.host ?? (bootstrap.every(node => isLoopback(node.host)) ? '127.0.0.1' : '0.0.0.0')
  if (typeof host !== 'string' || isIP(host) === 0) {
    throw fail('INVALID_CONFIG', `hypercore host must be an IP address, got ${String(host)}`, { backend: BACKEND })
  }
  return { bootstrap, host, timeoutMs }
}
