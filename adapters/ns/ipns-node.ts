// The Helia node an embedded `ipns` name system publishes and resolves through: no blocks, no repo on
// disk, only routing — delegated routing over HTTP (`routers`) and/or the libp2p DHT (`peers`).
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { delegatedHTTPRouter } from '@helia/delegated-routing-client'
import { ipns, type IPNS } from '@helia/ipns'
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createHeliaLight, type Helia } from 'helia'
import { Key } from 'interface-datastore'
import { base32 } from 'multiformats/bases/base32'
import { fail } from '../../core/errors.js'
import { parsePeers, PeerDialer } from '../cas/helia-peers.js'
import { BACKEND } from './ipns-record.js'

/** The IPNS DHT protocol (the public Amino DHT's, spoken on loopback by the devnet's hub). */
export const IPNS_DHT_PROTOCOL = '/ipfs/kad/1.0.0'

export interface IpnsNodeOptions {
  /** Delegated routing V1 HTTP endpoints (`GET`/`PUT /routing/v1/ipns/<name>`). */
  routers: string[]
  /** DHT servers to dial; the node joins their DHT as a client. */
  peers: string[]
  timeoutMs: number
}

/** A started routing-only Helia node with IPNS on it. */
export interface IpnsNode {
  readonly helia: Helia
  readonly ipns: IPNS
  /**
   * Stores a signed record in every configured routing: an HTTP router's refusal throws; on the DHT,
   * at least one peer must take it (a record nobody took is also dropped from this node's own DHT store).
   */
  put (routingKey: Uint8Array, record: Uint8Array, signal: AbortSignal): Promise<void>
  /** Why nothing can be asked right now (no router configured reachable, no DHT peer), else undefined. */
  offline (): string | undefined
  stop (): Promise<void>
}

type DhtServices = { identify: unknown, dht: KadDHT }

/**
 * Starts the node. With `peers`, it listens on nothing (a DHT client needs no inbound connections),
 * dials them and waits — at most `timeoutMs` — until one is in its DHT routing table.
 * @example const node = await startIpnsNode({ routers: ['http://127.0.0.1:8080'], peers: [], timeoutMs: 10_000 })
 */
export async function startIpnsNode (options: IpnsNodeOptions): Promise<IpnsNode> {
  const { routers, peers, timeoutMs } = options
  if (routers.length === 0 && peers.length === 0) {
    throw fail('INVALID_CONFIG', 'ipns needs a routing: routers (delegated routing HTTP URLs) and/or peers (DHT multiaddrs)', { backend: BACKEND })
  }
  for (const url of routers) {
    if (!/^https?:\/\/[^/]+/.test(url)) throw fail('INVALID_CONFIG', `ipns routers: "${url}" is not an http(s) URL`, { backend: BACKEND })
  }
  const peerAddresses = parsePeers(peers)
  const light = createHeliaLight({
    routers: routers.map(url => delegatedHTTPRouter({ url, timeout: timeoutMs, cacheTTL: 0 }))
  })
  const helia: Helia = peers.length === 0
    ? light
    : withLibp2pLight(light, {
      addresses: { listen: [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] },
      services: {
        identify: identify(),
      ping: ping(),
        // Client mode: an endpoint asks and stores through the DHT servers but holds no one else's records.
        // Loopback addresses are what this DHT is made of, so they are kept (the public DHT drops them).
        // Queries need not wait for kad-dht's first self-query (~1 s): this node waits for its peers itself.
        dht: kadDHT({ protocol: IPNS_DHT_PROTOCOL, clientMode: true, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true }) as never
      }
    })
  try {
    await helia.start()
  } catch (cause) {
    await helia.stop().catch(() => {})
    throw fail('UNAVAILABLE', 'cannot start the IPNS node', { backend: BACKEND, cause })
  }
  // Created once started: @helia/ipns registers its record validator and selector on the node's DHT.
  const name = ipns(helia)
  const libp2p = peers.length === 0 ? undefined : (helia as HeliaWithLibp2p<DhtServices>).libp2p
  const dialer = libp2p === undefined ? undefined : new PeerDialer(libp2p, peerAddresses, timeoutMs)

  const routingTableSize = (): number => (libp2p?.services.dht as unknown as { routingTable?: { size: number } } | undefined)?.routingTable?.size ?? 0
  if (dialer !== undefined) {
    await dialer.connect()
    const deadline = Date.now() + timeoutMs
    while (routingTableSize() === 0 && libp2p!.getConnections().length > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }

  async function putDht (routingKey: Uint8Array, record: Uint8Array, signal: AbortSignal): Promise<void> {
    const dht = libp2p!.services.dht
    if (routingTableSize() === 0) await dialer!.connect(signal)
    let stored = 0
    const refusals: string[] = []
    for await (const event of dht.put(routingKey, record, { signal })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') stored++
      if (event.name === 'QUERY_ERROR') refusals.push(event.error.message)
    }
    if (stored === 0) {
      // kad-dht keeps what it puts in this node's own store first: a record no peer took must not
      // be served back to this node as if it were published.
      await dropLocalRecord(helia, routingKey).catch(() => {})
      throw fail('UNAVAILABLE', `no DHT peer took the record (${dialer!.addresses.join(', ')}${refusals.length > 0 ? `: ${refusals.slice(0, 3).join('; ')}` : ''})`, { backend: BACKEND })
    }
  }

  return {
    helia,
    ipns: name,
    async put (routingKey, record, signal) {
      const work: Array<Promise<void>> = []
      if (routers.length > 0) work.push(helia.routing.put(routingKey, record, { signal }))
      if (libp2p !== undefined) work.push(putDht(routingKey, record, signal))
      await Promise.all(work)
    },
    offline () {
      if (libp2p !== undefined && routers.length === 0 && libp2p.getConnections().length === 0) {
        const errors = [...dialer!.lastErrors.values()]
        return `no DHT peer connected (${dialer!.addresses.join(', ')})${errors.length > 0 ? `: ${errors[0]}` : ''}`
      }
      return undefined
    },
    async stop () {
      await helia.stop()
    }
  }
}

/** Deletes the DHT record kad-dht stored locally for `routingKey` (its `/dht/record/<base32 key>` entry). */
async function dropLocalRecord (helia: Helia, routingKey: Uint8Array): Promise<void> {
  await helia.datastore.delete(new Key(`/dht/record/${base32.baseEncode(routingKey)}`, false))
}
