import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { BackendConfig } from '../adapters/registry.js'
import type { Config } from '../config/config.js'
import { initConfig } from '../config/presets.js'
import type { LogMode } from '../core/log-options.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { openActor, type Actor } from './actor.js'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import type { OutageOutcome, OutagePart } from './metrics.js'
import { allOf, measureOutage } from './outage.js'

/** How long compare's outage lasts ("survives a 3 s outage"). */
export const OUTAGE_MS = 3000

export interface BackendOutageOptions {
  devnet: DevnetSettings
  ns: string
  cas: string
  mode: LogMode
  pageEntries: number
  /** Folder for the writer's and the follower's state dirs. */
  root: string
  /** Default `OUTAGE_MS`. */
  outageMs?: number
  /** Gives up on the follower this long after the outage. Default 30 000 ms. */
  timeoutMs?: number
  log?: (line: string) => void
}

/**
 * How one backend of a devnet preset is reached, and what an endpoint's config becomes with
 * fault proxies in front of every TCP connection it makes:
 * - `local`: disk (or memory), nothing to cut;
 * - `tcp`: every connection goes to URLs / multiaddrs in its config, each rewritten to a proxy;
 * - `uncut`: it also talks over something a TCP proxy cannot sit in front of (UDP), so it is left alone.
 */
type Reach =
  | { kind: 'local' }
  | { kind: 'tcp', what: string, through: (config: BackendConfig, via: Via, reader: boolean) => Promise<BackendConfig> }
  | { kind: 'uncut', what: string, over: string }

/** The proxy in front of `target` (one per target and role, shared by the writer and the reader). */
type Via = (target: string | { host: string, port: number }) => Promise<FaultProxy>

/** `url` with its host and port replaced by the proxy's (path and query kept). */
async function proxyUrl (url: string, via: Via): Promise<string> {
  const proxy = await via(url)
  const u = new URL(url)
  u.hostname = proxy.host
  u.port = String(proxy.port)
  return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '')
}

const TCP_MULTIADDR = /^\/ip4\/([0-9.]+)\/tcp\/(\d+)(\/p2p\/[^/]+)$/

function reachOf (role: 'ns' | 'cas', config: BackendConfig): Reach {
  const c = config as BackendConfig & Record<string, unknown>
  switch (c.driver) {
    case 'local':
    case 'memory':
      return { kind: 'local' }
    case 'twirp':
      return { kind: 'tcp', what: `the remote log service (Twirp over HTTP, ${String(c.url)})`, through: async (b, via) => ({ ...b, url: await proxyUrl(String(c.url), via) }) }
    case 'kubo':
      return { kind: 'tcp', what: `the IPFS node's Kubo RPC API (${String(c.url)})`, through: async (b, via) => ({ ...b, url: await proxyUrl(String(c.url), via) }) }
    case 'ens':
      return { kind: 'tcp', what: `the Hardhat node's JSON-RPC (${String(c.rpcUrl)})`, through: async (b, via) => ({ ...b, rpcUrl: await proxyUrl(String(c.rpcUrl), via) }) }
    case 'ipns': {
      const routers = Array.isArray(c.routers) ? c.routers as string[] : []
      const peers = Array.isArray(c.peers) ? c.peers as string[] : []
      // The DHT over libp2p (`peers`) is not proxied here; the preset uses delegated routing HTTP only.
      if (peers.length > 0 || routers.length === 0) return { kind: 'uncut', what: 'the IPNS DHT (libp2p)', over: 'libp2p' }
      return { kind: 'tcp', what: `the IPNS delegated routing HTTP API (${routers.join(', ')})`, through: async (b, via) => ({ ...b, routers: await Promise.all(routers.map(async r => await proxyUrl(r, via))) }) }
    }
    case 'helia': {
      const peers = Array.isArray(c.peers) ? c.peers as string[] : []
      if (c.offline !== false || peers.length === 0 || !peers.every(p => TCP_MULTIADDR.test(p))) return { kind: 'uncut', what: 'Helia (libp2p)', over: 'libp2p' }
      return {
        kind: 'tcp',
        what: `libp2p TCP from the endpoints to the devnet's Helia node (${peers.join(', ')})${typeof c.pinService === 'string' ? ` and its pin service (${c.pinService}); the node's dials back to the writer, to fetch what it pins, are not proxied (it makes them only when asked through the pin service)` : ''}`,
        through: async (b, via, reader) => ({
          ...b,
          peers: await Promise.all(peers.map(async p => {
            const [, host, port, peer] = TCP_MULTIADDR.exec(p)!
            const proxy = await via({ host, port: Number(port) })
            return `/ip4/${proxy.host}/tcp/${proxy.port}${peer}`
          })),
          ...(typeof c.pinService === 'string' ? { pinService: await proxyUrl(c.pinService, via) } : {}),
          // The writer keeps listening: the Helia node fetches what it pins from there (and that
          // fetch starts with a pin request, which is cut). The reader listens on nothing, so all
          // it gets comes through the proxy.
          ...(reader ? { listen: [] } : {})
        })
      }
    }
    case 'hypercore':
      // Its DHT and replication run over UDP (UDX); its seed service (HTTP) alone is not worth cutting.
      return { kind: 'uncut', what: 'the Hyperswarm DHT and its replication', over: 'UDP' }
    case 'dns':
      // Readers resolve over UDP; only the writer's RFC 2136 updates go over TCP.
      return { kind: 'uncut', what: 'DNS queries to the zone\'s server', over: 'UDP' }
    default:
      return { kind: 'uncut', what: `${role} driver ${c.driver}`, over: 'an unknown transport' }
  }
}

/**
 * compare's "survives a 3 s outage" row for one NS × CAS combination of a devnet: a fresh writer
 * and live follower whose networked backends are reached through fault proxies (the service URL,
 * the Hardhat RPC, the IPNS routing URL, the Kubo RPC API, the Helia node's libp2p port and pin
 * service); then `measureOutage` cuts them all for `outageMs`.
 *
 * A combination whose backends are both on disk is `notApplicable`. A backend reached over UDP
 * (Hypercore's DHT, DNS queries) cannot be put behind a TCP proxy: when the other backend can, the
 * outage cuts that one only and the outcome says which part was not cut (`notCut`) — a partial
 * outage, still a real one for that backend, and labelled as such rather than dropped; when neither
 * can, it is `notMeasured`. Never throws.
 * @example
 * const outcome = await measureBackendOutage({ devnet, ns: 'twirp', cas: 'local', mode: 'pointer', pageEntries: 64, root })
 * // { recovered: true, recoveryMs: 1210, lost: 0, duplicated: 0, retries: 4, outageMs: 3000, cut: [{ role: 'NS', … }], notCut: [] }
 */
export async function measureBackendOutage (o: BackendOutageOptions): Promise<OutageOutcome> {
  const outageMs = o.outageMs ?? OUTAGE_MS
  const tag = randomBytes(3).toString('hex')
  const config = (who: string): Config => ({
    ...initConfig({ stateDir: join(o.root, who), store: join(o.root, 'store'), cas: o.cas, ns: o.ns, devnet: o.devnet, name: `${who}-${tag}` }),
    log: { mode: o.mode, pageEntries: o.pageEntries }
  })
  const base = config('outage-writer')
  const reach = { ns: reachOf('ns', base.ns), cas: reachOf('cas', base.cas) }
  const roles = (['ns', 'cas'] as const)
  const cut: OutagePart[] = []
  const notCut: OutagePart[] = []
  for (const role of roles) {
    const r = reach[role]
    const part = { role: role === 'ns' ? 'NS' as const : 'CAS' as const }
    if (r.kind === 'tcp') cut.push({ ...part, what: r.what })
    if (r.kind === 'uncut') notCut.push({ ...part, what: r.what, over: r.over })
  }
  if (cut.length === 0 && notCut.length === 0) return { notApplicable: 'the NS and the CAS are on local disk (no network)' }
  if (cut.length === 0) return { notMeasured: `nothing a TCP fault proxy can cut: ${notCut.map(p => `${p.role}: ${p.what} over ${p.over ?? '?'}`).join('; ')}`, notCut }

  const proxies = new Map<string, Promise<FaultProxy>>()
  const actors: Actor[] = []
  try {
    const through = async (who: string, reader: boolean): Promise<Config> => {
      const c = config(who)
      for (const role of roles) {
        const r = reach[role]
        if (r.kind !== 'tcp') continue
        const via: Via = async (target) => {
          const key = `${role} ${typeof target === 'string' ? new URL(target).host : `${target.host}:${target.port}`}`
          let proxy = proxies.get(key)
          if (proxy === undefined) proxies.set(key, proxy = startFaultProxy({ target }))
          return await proxy
        }
        c[role] = await r.through(c[role], via, reader)
      }
      return c
    }
    const writerConfig = await through('outage-writer', false)
    const readerConfig = await through('outage-reader', true)
    const writer = await openActor(join(o.root, 'outage-writer'), writerConfig)
    actors.push(writer)
    const reader = await openActor(join(o.root, 'outage-reader'), readerConfig)
    actors.push(reader)
    await reader.endpoint.follow(await writer.endpoint.address(), 'w')
    const switches = await Promise.all(proxies.values())
    o.log?.(`outage of ${outageMs} ms through ${switches.length} fault prox${switches.length === 1 ? 'y' : 'ies'} (${switches.map(p => p.target).join(', ')})`)
    const result = await measureOutage({ writer: writer.endpoint, reader: reader.endpoint, alias: 'w', fault: allOf(switches) }, {
      outageMs,
      pollMs: 200,
      timeoutMs: o.timeoutMs ?? 30_000,
      text: i => `${tag}-${i}`
    })
    return { ...result, outageMs, cut, notCut }
  } catch (e) {
    // Opening the endpoints or the proxies failed (measureOutage itself never throws): nothing was cut.
    return { notMeasured: `could not set up the endpoints behind fault proxies: ${e instanceof Error ? e.message : String(e)}`, notCut }
  } finally {
    await Promise.allSettled(actors.map(async a => { await a.close() }))
    await Promise.allSettled([...proxies.values()].map(async p => { await (await p).close() }))
  }
}
