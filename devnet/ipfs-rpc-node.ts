// js-ipfs (ipfs-core + ipfs-http-server, the ipfs@0.66 line) runs on an old libp2p generation. Only
// this module imports it, and only dynamically, so Helia's code and the CLI never load it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface IpfsRpcNodeOptions {
  /** Repo folder. Default: a fresh temp folder, removed on stop. */
  repo?: string
  /** API port on 127.0.0.1 (default 0: a free port). */
  port?: number
}

/** A running IPFS node that serves the Kubo HTTP RPC API on loopback. */
export interface IpfsRpcNode {
  /** Base URL of the RPC API, e.g. `http://127.0.0.1:45123/api/v0`. */
  url: string
  repo: string
  stop: () => Promise<void>
}

/**
 * Starts a real IPFS node in this process that speaks the Kubo HTTP RPC API (`/api/v0`) on
 * 127.0.0.1, offline: no swarm listeners, no bootstrap peers, no MDNS, no preload, no gateway.
 * Kubo itself cannot be installed here; js-ipfs serves the same API (its quirks: a get/stat of a
 * missing block waits until its `timeout`, and `cid-codec` is ignored — use `format: 'raw'`).
 * @example
 * const node = await startIpfsRpcNode()
 * const cas = kuboCas({ url: node.url })
 * await node.stop()
 */
export async function startIpfsRpcNode (options: IpfsRpcNodeOptions = {}): Promise<IpfsRpcNode> {
  const ownRepo = options.repo === undefined
  const repo = options.repo ?? await mkdtemp(join(tmpdir(), 'remotelog-jsipfs-'))
  const { create } = await import('ipfs-core')
  const { HttpApi } = await import('ipfs-http-server')
  const ipfs = await create({
    repo,
    offline: true,
    start: true,
    silent: true,
    preload: { enabled: false },
    init: { algorithm: 'Ed25519' },
    config: {
      Addresses: { API: `/ip4/127.0.0.1/tcp/${options.port ?? 0}`, Swarm: [], Gateway: '', Delegates: [] },
      Bootstrap: [],
      Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } }
    }
  })
  const api = new HttpApi(ipfs)
  try {
    await api.start()
  } catch (e) {
    await ipfs.stop()
    if (ownRepo) await rm(repo, { recursive: true, force: true })
    throw e
  }
  const port = api.apiAddr.toOptions().port
  let stopped = false
  return {
    url: `http://127.0.0.1:${port}/api/v0`,
    repo,
    stop: async () => {
      if (stopped) return
      stopped = true
      try {
        await api.stop()
        await ipfs.stop()
      } finally {
        if (ownRepo) await rm(repo, { recursive: true, force: true })
      }
    }
  }
}
