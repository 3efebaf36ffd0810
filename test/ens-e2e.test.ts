import { join } from 'node:path'
import { decode as decodeContenthashText } from '@ensdomains/content-hash'
import { BrowserProvider, Contract, JsonRpcProvider, namehash, type AbstractProvider } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import { REGISTRY_ABI, RESOLVER_ABI } from '../adapters/ns/ens-contracts.js'
import { deployEns } from '../devnet/ens-deploy.js'
import { startEnsDevnet, type EnsDevnet } from '../devnet/ens-devnet.js'
import { inProcessHardhat } from '../devnet/hardhat-network.js'
import { startHardhatNode } from '../devnet/hardhat-node.js'
import type { BackendConfig } from '../adapters/registry.js'
import { tempDir } from './support/temp-dir.js'

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** An endpoint's `ns` config block for the ens driver. */
type EnsNsConfig = BackendConfig & { driver: 'ens', registry: string }

/**
 * alice (CAS: local, NS: ens) publishes 300 messages in 3 batches; bob, sharing the CAS, follows
 * `ens:alice.eth` and syncs them all, then a second sync costs one NS resolve and no CAS get.
 */
async function aliceToBob (ns: EnsNsConfig, chain: AbstractProvider): Promise<void> {
  const root = await tempDir()
  const config = (name: string): Config => ({
    name,
    cas: { driver: 'local', path: join(root, 'cas') },
    ns,
    log: { mode: 'pointer', pageEntries: 128 }
  })
  const alice = await openEndpoint({ dir: join(root, 'alice'), config: config('alice') })
  const bob = await openEndpoint({ dir: join(root, 'bob'), config: config('bob') })
  try {
    const receipts = []
    let head = ''
    for (let batch = 0; batch < 3; batch++) {
      await alice.append(Array.from({ length: 100 }, (_, i) => `message ${batch * 100 + i}`))
      const published = await alice.publish()
      expect(published).toMatchObject({ length: (batch + 1) * 100, revision: batch + 1, published: 100 })
      receipts.push(published!.receipt)
      head = published!.head.toString()
    }
    for (const receipt of receipts) {
      expect(receipt.gasUsed).toBeGreaterThan(0)
      expect(receipt.txHash).toMatch(/^0x[0-9a-f]{64}$/)
    }
    expect(await alice.address()).toBe('ens:alice.eth')

    await bob.follow('ens:alice.eth', 'alice')
    const first = await bob.sync('alice')
    expect(first).toMatchObject({ delivered: 300, length: 300 })
    const second = await bob.sync('alice')
    expect(second).toMatchObject({ delivered: 0, length: 300, nsRequests: 1, casRequests: 0 })

    const got: string[] = []
    for await (const m of bob.read('alice')) {
      expect(m.seq).toBe(got.length)
      got.push(text(m.payload!))
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => `message ${i}`))

    // The contenthash alice set, decoded by the ENS library any ENS client uses, is the head that
    // alice published and that bob's reader resolves.
    const registry = new Contract(ns.registry, REGISTRY_ABI, chain)
    const resolver = new Contract(await registry.resolver(namehash('alice.eth')) as string, RESOLVER_ABI, chain)
    const decoded = decodeContenthashText(await resolver.contenthash(namehash('alice.eth')) as string)
    expect(decoded).toBe(head)
    expect((await bob.ns.resolve('alice.eth')).head.toString()).toBe(decoded)
  } finally {
    await alice.close()
    await bob.close()
  }
}

describe('ens end to end: in-process Hardhat network', () => {
  it('alice publishes 300 messages in 3 batches; bob syncs them from ens:alice.eth', async () => {
    const provider = await inProcessHardhat()
    const chain = new BrowserProvider(provider)
    try {
      const { registry, resolver, registrar } = await deployEns({ provider })
      await aliceToBob({ driver: 'ens', provider, registry, resolver, registrar }, chain)
    } finally {
      chain.destroy()
    }
  })
})

describe('ens end to end: hardhat node over HTTP', () => {
  let devnet: EnsDevnet
  beforeAll(async () => { devnet = await startEnsDevnet() })
  afterAll(async () => { await devnet?.stop() })

  it('the same scenario against a node started on a free port of 127.0.0.1', async () => {
    expect(devnet.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const chain = new JsonRpcProvider(devnet.rpcUrl, undefined, { batchMaxCount: 1, cacheTimeout: -1 })
    try {
      await aliceToBob(devnet.nsConfig, chain)
    } finally {
      chain.destroy()
    }
  })

  it('stops the node and leaves no process behind', async () => {
    const other = await startHardhatNode()
    await other.stop()
    expect(() => process.kill(other.pid, 0)).toThrow(/ESRCH/)
  })
})
