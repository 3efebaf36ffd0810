import type { ContentStore } from '../core/content-store.js'
import type { NameSystem } from '../core/name-system.js'
import { fail } from '../core/errors.js'
import type { Durability } from '../core/durable-file.js'

/** A backend's configuration: its driver name plus that driver's options. */
export interface BackendConfig {
  driver: string
  [option: string]: unknown
}

/** Where relative paths in a config point, and which state dir the endpoint uses. */
export interface BackendContext {
  /** The endpoint's state dir (Hypercore keeps its cores there). */
  stateDir: string
  /** The endpoint's durability (config.json `durability`), for backends that write to local disk. */
  durability?: Durability
}

type Factory<T> = (options: Record<string, unknown>, context: BackendContext) => Promise<T>

/**
 * The packages each backend needs beyond the core: optional peer dependencies of remotelog, which a
 * user installs for the backends they use (see the README and package.json's peerDependencies).
 */
export const backendPackages: Record<string, string[]> = {
  helia: ['helia', '@helia/libp2p', '@helia/bitswap', 'libp2p', '@libp2p/tcp', '@libp2p/identify', '@libp2p/interface', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@multiformats/multiaddr', 'blockstore-level', 'datastore-level', '@ipld/dag-cbor'],
  kubo: ['kubo-rpc-client'],
  ens: ['ethers', '@ensdomains/content-hash', '@ensdomains/ens', '@ensdomains/resolver'],
  hypercore: ['hypercore', 'corestore', 'hyperswarm', 'hyperdht'],
  twirp: ['@connectrpc/connect', '@connectrpc/connect-node'],
  dns: ['dns-packet'],
  ipns: ['helia', '@helia/ipns', 'ipns', '@helia/delegated-routing-client', '@helia/libp2p', 'libp2p', '@libp2p/kad-dht', '@libp2p/ping', '@libp2p/tcp', '@libp2p/identify', '@libp2p/interface', '@libp2p/crypto', '@libp2p/peer-id', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@multiformats/multiaddr', 'kubo-rpc-client']
}

/**
 * Runs a backend's factory; a package it needs that is not installed is INVALID_CONFIG naming the
 * `npm install` line that brings every package of that backend.
 */
async function withPackages<T> (role: string, driver: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open()
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ? /Cannot find (?:package|module) '([^']+)'/.exec((e as Error).message)?.[1] : undefined
    const packages = backendPackages[driver]
    if (missing === undefined || packages === undefined) throw e
    throw fail('INVALID_CONFIG', `the ${driver} ${role} needs packages that are not installed (${missing} is missing): npm install ${packages.join(' ')}`, { cause: e })
  }
}

// Each factory imports its module only when chosen, so heavy SDKs load only for their backend.
const casDrivers: Record<string, Factory<ContentStore>> = {
  memory: async () => (await import('./cas/memory.js')).memoryCas(),
  local: async (o) => await (await import('./cas/local.js')).localCas(o as never),
  helia: async (o, c) => {
    const store = await (await import('./cas/helia.js')).heliaCas(o as never, c)
    // `pinService`: every put is pinned by an always-on node before it returns (see pin-service.ts).
    return typeof o.pinService === 'string' ? (await import('./cas/pin-service.js')).withPinService(store, { url: o.pinService }) : store
  },
  kubo: async (o) => await (await import('./cas/kubo.js')).kuboCas(o as never),
  twirp: async (o) => await (await import('./cas/twirp.js')).twirpCas(o as never)
}

const nsDrivers: Record<string, Factory<NameSystem>> = {
  memory: async (o) => (await import('./ns/memory.js')).memoryNs(o),
  local: async (o, c) => (await import('./ns/local.js')).localNs({ durability: c.durability, ...o } as never),
  ens: async (o, c) => await (await import('./ns/ens.js')).ensNs(o as never, c),
  hypercore: async (o, c) => {
    const ns = await (await import('./ns/hypercore.js')).hypercoreNs(o as never, c)
    // `seedService`: each publish returns once an always-on seeder holds it (see seed-service.ts).
    return typeof o.seedService === 'string' ? (await import('./ns/seed-service.js')).withSeedService(ns, { url: o.seedService }) : ns
  },
  twirp: async (o) => await (await import('./ns/twirp.js')).twirpNs(o as never),
  dns: async (o) => (await import('./ns/dns.js')).dnsNs(o as never),
  // Embedded (Helia: delegated routing `routers` and/or DHT `peers`), or through a node's RPC API (`kubo`).
  ipns: async (o, c) => await (await import('./ns/ipns.js')).openIpnsNs(o as never, c)
}

function pick<T> (table: Record<string, Factory<T>>, role: string, config: BackendConfig | undefined): Factory<T> {
  if (config === undefined || typeof config.driver !== 'string') throw fail('INVALID_CONFIG', `no ${role} backend configured`)
  const factory = table[config.driver]
  if (factory === undefined) throw fail('INVALID_CONFIG', `unknown ${role} driver "${config.driver}" (known: ${Object.keys(table).join(', ')})`)
  return factory
}

/** Opens the CAS a config names. */
export async function openCas (config: BackendConfig, context: BackendContext): Promise<ContentStore> {
  const { driver, ...options } = config
  const open = pick(casDrivers, 'CAS', config)
  return await withPackages('CAS', driver, async () => await open(options, context))
}

/** Opens the NS a config names. */
export async function openNs (config: BackendConfig, context: BackendContext): Promise<NameSystem> {
  const { driver, ...options } = config
  const open = pick(nsDrivers, 'NS', config)
  return await withPackages('NS', driver, async () => await open(options, context))
}
