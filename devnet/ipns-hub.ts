// The devnet's IPNS routing: a Helia node that is a libp2p DHT server on loopback, with a delegated
// routing V1 HTTP API in front of it. It holds every IPNS record published to it and keeps it
// available while the writer is offline.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BinaryReader } from '@bufbuild/protobuf/wire'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { createDelegatedRoutingV1HttpApiServer } from '@helia/delegated-routing-v1-http-api-server'
import { ipns } from '@helia/ipns'
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createHeliaLight } from 'helia'
import { Key } from 'interface-datastore'
import { multihashFromIPNSRoutingKey, unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator, validFor } from 'ipns/validator'
import { base32 } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { FastLevelDatastore } from '../adapters/cas/level-stores.js'
import { IPNS_DHT_PROTOCOL } from '../adapters/ns/ipns-node.js'
import { fail } from '../core/errors.js'
import { Mutex } from '../core/mutex.js'

/** What endpoints need to use the hub; written in `devnet.json` as `ipns`. */
export interface IpnsHubSettings {
  /** Delegated routing V1 HTTP API (`GET`/`PUT /routing/v1/ipns/<name>`), e.g. `http://127.0.0.1:40123`. */
  routingUrl: string
  /** The hub's libp2p DHT: its peer id and the multiaddrs endpoints dial (`…/p2p/<peerId>`). */
  peerId: string
  multiaddrs: string[]
}

export interface IpnsHubOptions {
  /** Folder of the hub's datastore (its identity and the records it holds survive a restart). */
  dir: string
  /** libp2p listen addresses. Default `/ip4/127.0.0.1/tcp/0`. */
  listen?: string[]
  /** Port of the HTTP API on 127.0.0.1. Default 0 (a free one). */
  port?: number
  /** How often the hub puts every valid record it holds back into the DHT. Default one hour. */
  republishMs?: number
  /**
   * An IPFS node's RPC API (`http://…/api/v0`) that gets every record the hub accepts (`routing/put`,
   * or js-ipfs's `dht/put`), so its `name/resolve` answers for names published here.
   */
  forwardTo?: string
  onError?: (error: unknown) => void
}

export interface IpnsHub {
  readonly settings: IpnsHubSettings
  /** Puts every valid record held back into the DHT now; returns how many. Expired ones are dropped. */
  republish (): Promise<number>
  /** The record the hub holds for a routing key (`/ipns/` ‖ multihash), if any. */
  held (routingKey: Uint8Array): Promise<Uint8Array | undefined>
  stop (): Promise<void>
}

const IPNS_PREFIX = new TextEncoder().encode('/ipns/')
const isIpnsKey = (key: Uint8Array): boolean => key.byteLength > IPNS_PREFIX.byteLength && IPNS_PREFIX.every((b, i) => key[i] === b)
const recordKey = (routingKey: Uint8Array): Key => new Key(`/dht/record/${base32.baseEncode(routingKey)}`, false)

/** The `key` and `value` of a libp2p DHT record (`Libp2pRecord`: key = 1, value = 2, timeReceived = 5). */
function decodeDhtRecord (bytes: Uint8Array): { key: Uint8Array, value: Uint8Array } {
  const reader = new BinaryReader(bytes)
  let key: Uint8Array = new Uint8Array()
  let value: Uint8Array = new Uint8Array()
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag()
    if (field === 1) key = reader.bytes()
    else if (field === 2) value = reader.bytes()
    else reader.skip(wireType)
  }
  return { key, value }
}

/** An error the delegated routing server answers with its `statusCode` (409: a record older than the one held). */
class RefusedRecordError extends Error {
  readonly statusCode = 409
  name = 'RefusedRecordError'
}

/**
 * Whether `incoming` may replace `held` for one name: a higher sequence, or the same record
 * re-signed with a later validity (a republish). A lower sequence (a replay, a rollback) and a
 * second value under the same sequence (two writers racing) are refused, as go-libp2p's DHT servers
 * refuse records older than the one they hold.
 */
function refusal (incoming: Uint8Array, held: Uint8Array | undefined): string | undefined {
  if (held === undefined || Buffer.compare(incoming, held) === 0) return undefined
  const next = unmarshalIPNSRecord(incoming)
  let old
  try {
    old = unmarshalIPNSRecord(held)
    if (validFor(old) <= 0) return undefined
  } catch {
    return undefined
  }
  if (next.sequence > old.sequence) return undefined
  if (next.sequence === old.sequence && next.value === old.value && validFor(next) >= validFor(old)) return undefined
  return next.sequence < old.sequence
    ? `sequence ${next.sequence} is below the held ${old.sequence}`
    : `sequence ${next.sequence} already holds ${old.value}`
}

/**
 * Starts the hub. Endpoints reach it over HTTP (`routers: [settings.routingUrl]`, the devnet
 * preset) or join its DHT as clients (`peers: settings.multiaddrs`). Every record is checked with the
 * IPNS validator (signature of the name's key, EOL) and refused when older than the one held; held
 * records are put back into the DHT every `republishMs` until their validity ends, so a log's name
 * stays resolvable while its writer is offline.
 * @example
 * const hub = await startIpnsHub({ dir: '/tmp/devnet/ipns' })
 * const ns = await ipnsNs({ routers: [hub.settings.routingUrl] })
 */
export async function startIpnsHub (options: IpnsHubOptions): Promise<IpnsHub> {
  await mkdir(options.dir, { recursive: true })
  const datastore = new FastLevelDatastore(join(options.dir, 'data'))
  await datastore.open()
  const helia = withLibp2pLight(createHeliaLight({ datastore }), {
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: IPNS_DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true }) as never
    }
  }) as HeliaWithLibp2p<{ identify: unknown, dht: KadDHT }>
  let server: Awaited<ReturnType<typeof createDelegatedRoutingV1HttpApiServer>> | undefined
  let timer: NodeJS.Timeout | undefined
  const stopAll = async (): Promise<void> => {
    clearInterval(timer)
    await server?.close().catch(() => {})
    await helia.stop().catch(() => {})
    await datastore.close().catch(() => {})
  }
  const onError = options.onError ?? (() => {})
  const locks = new Map<string, Mutex>()
  const lockOf = (key: Uint8Array): Mutex => {
    const id = base32.baseEncode(key)
    let lock = locks.get(id)
    if (lock === undefined) locks.set(id, lock = new Mutex())
    return lock
  }

  const held = async (routingKey: Uint8Array): Promise<Uint8Array | undefined> => {
    try {
      return decodeDhtRecord(await datastore.get(recordKey(routingKey))).value
    } catch (e) {
      if ((e as Error).name === 'NotFoundError') return undefined
      throw e
    }
  }

  // Records accepted but maybe not stored yet (a DHT PUT_VALUE is stored after its check returns), so
  // two racing puts are compared with each other too.
  const accepted = new Map<string, Uint8Array>()
  /** Checks a record against the newest held or just accepted for its name, and notes it as accepted. */
  const check = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    await lockOf(key).run(async () => {
      const id = base32.baseEncode(key)
      const stored = await held(key)
      const pending = accepted.get(id)
      const newest = pending !== undefined && refusal(pending, stored) === undefined ? pending : stored
      const why = refusal(value, newest)
      if (why !== undefined) throw new RefusedRecordError(`IPNS record refused: ${why}`)
      accepted.set(id, value)
      setTimeout(() => { if (accepted.get(id) === value) accepted.delete(id) }, 10_000).unref()
    })
  }

  /** Hands an accepted record to the RPC node: Kubo's `routing/put`, else js-ipfs's `dht/put`. */
  const forward = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    if (options.forwardTo === undefined) return
    const name = base58btc.baseEncode(multihashFromIPNSRoutingKey(key).bytes)
    for (const [command, extra] of [['routing/put', '&allow-offline=true'], ['dht/put', '']]) {
      const body = new FormData()
      body.append('file', new Blob([value]))
      const response = await fetch(`${options.forwardTo}/${command}?arg=/ipns/${name}${extra}`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) })
      await response.arrayBuffer()
      if (response.ok) return
      if (response.status !== 404) throw new Error(`${command} of /ipns/${name} on ${options.forwardTo} answered HTTP ${response.status}`)
    }
  }

  try {
    await helia.start()
    // @helia/ipns sets the DHT's IPNS validator and selector; records older than the held one are refused too.
    ipns(helia)
    const dht = helia.libp2p.services.dht
    const validate = dht.validators.ipns
    dht.validators.ipns = async (key, value) => {
      await validate(key, value)
      await check(key, value)
      // A DHT peer's PUT_VALUE: the record is stored right after this check; the RPC node gets it too.
      if (Buffer.compare(value, await held(key) ?? new Uint8Array()) !== 0) setImmediate(() => { forward(key, value).catch(onError) })
    }
    // Records PUT over HTTP come through the routing.
    const put = helia.routing.put.bind(helia.routing)
    helia.routing.put = async (key, value, putOptions) => {
      if (!isIpnsKey(key)) { await put(key, value, putOptions); return }
      await ipnsValidator(key, value)
      await check(key, value)
      await put(key, value, putOptions)
      await forward(key, value).catch(onError)
    }
    server = await createDelegatedRoutingV1HttpApiServer(helia as never, { listen: { host: '127.0.0.1', port: options.port ?? 0 } })
  } catch (cause) {
    await stopAll()
    throw fail('UNAVAILABLE', 'cannot start the devnet IPNS hub', { backend: 'ipns', cause })
  }
  const address = server.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const peerId = helia.libp2p.peerId.toString()
  const settings: IpnsHubSettings = {
    routingUrl: `http://127.0.0.1:${port}`,
    peerId,
    multiaddrs: helia.libp2p.getMultiaddrs().map(String).filter(a => a.includes('/ip4/127.0.0.1/'))
  }

  const republish = async (): Promise<number> => {
    let count = 0
    for await (const { key, value } of datastore.query({ prefix: '/dht/record/' })) {
      const record = decodeDhtRecord(value)
      if (!isIpnsKey(record.key)) continue
      try {
        await ipnsValidator(record.key, record.value)
      } catch {
        await datastore.delete(key).catch(() => {}) // expired (or no longer valid): IPNS lets it go
        continue
      }
      // A fresh put: this node's copy is received again now (DHT servers drop records after 48 h)
      // and the DHT's other servers closest to the name get it too.
      for await (const _ of helia.libp2p.services.dht.put(record.key, record.value)) { /* drain */ }
      count++
    }
    return count
  }
  timer = setInterval(() => { republish().catch(onError) }, options.republishMs ?? 3_600_000)
  timer.unref()

  let stopped: Promise<void> | undefined
  return {
    settings,
    republish,
    held,
    async stop () {
      stopped ??= stopAll()
      await stopped
    }
  }
}
