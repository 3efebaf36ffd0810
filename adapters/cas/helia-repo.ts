import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createHeliaLight, type Helia } from 'helia'
import { fail } from '../../core/errors.js'
import { FastLevelBlockstore, FastLevelDatastore } from './level-stores.js'

/**
 * Bitswap waits this long for more wants (and blocks to send) before it sends a message. Its 10 ms
 * default made every page of a chain walk cost ~20 ms on loopback; 2 ms still gathers the wants a
 * reader issues together into one message.
 */
const BITSWAP = { sendWantlistDebounce: 2, sendBlocksDebounce: 2 }

/** Networking for a Helia node: libp2p over TCP with noise, yamux, identify and bitswap. Nothing else. */
export interface HeliaNetworkOptions {
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[]
}

/** A started Helia node over an on-disk repo. `libp2p` is set only when networking is on. */
export interface HeliaRepoNode {
  helia: Helia
  libp2p?: HeliaWithLibp2p['libp2p']
  /** Stops the node and closes the repo's stores. */
  stop: () => Promise<void>
}

/**
 * Opens (creating if needed) an IPFS repo at `repo` — `blocks/` and `data/` LevelDB stores — and starts
 * a Helia node on it. Offline when `network` is absent: no libp2p at all, so no socket is opened.
 * The node's libp2p identity is kept in the repo's datastore, so it survives restarts.
 * @example const node = await startHeliaRepo('/tmp/ipfs', { listen: ['/ip4/127.0.0.1/tcp/0'] })
 */
export async function startHeliaRepo (repo: string, network?: HeliaNetworkOptions): Promise<HeliaRepoNode> {
  const blockstore = new FastLevelBlockstore(join(repo, 'blocks'))
  const datastore = new FastLevelDatastore(join(repo, 'data'))
  const closeStores = async (): Promise<void> => {
    await Promise.allSettled([blockstore.close(), datastore.close()])
  }
  try {
    await mkdir(repo, { recursive: true })
    await blockstore.open()
    await datastore.open()
  } catch (cause) {
    await closeStores()
    const locked = JSON.stringify(cause, Object.getOwnPropertyNames(cause ?? {})).includes('LOCKED')
    const why = locked ? 'it is in use by another Helia node (one process per repo)' : 'it could not be opened'
    throw fail('UNAVAILABLE', `cannot open the IPFS repo at ${repo}: ${why}`, { backend: 'helia', cause })
  }

  // The dag-cbor codec must be known or pinning fails; our own blocks are all raw.
  const light = createHeliaLight({ blockstore, datastore, codecs: [dagCbor] })
  const helia: Helia = network === undefined
    ? light
    : withBitswap(withLibp2pLight(light, {
      addresses: { listen: network.listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // Peers on this machine are exempt from libp2p's inbound rate limit (5 connections/s per
      // host), which otherwise resets the connections of a devnet's many local endpoints.
      connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] },
      services: { identify: identify() }
    }), BITSWAP)
  try {
    await helia.start()
  } catch (cause) {
    await helia.stop().catch(() => {})
    await closeStores()
    throw fail('UNAVAILABLE', `cannot start the Helia node (listen: ${network?.listen.join(', ') ?? 'offline'})`, { backend: 'helia', cause })
  }
  return {
    helia,
    libp2p: network === undefined ? undefined : (helia as HeliaWithLibp2p).libp2p,
    stop: async () => {
      try {
        await helia.stop()
      } finally {
        await closeStores()
      }
    }
  }
}
