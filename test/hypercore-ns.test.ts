import { afterAll, beforeAll } from 'vitest'
import { nsConformance } from './conformance/ns.js'
import { hypercoreNs } from '../adapters/ns/hypercore.js'
import type { NameSystem } from '../core/name-system.js'
import { startHypercoreTestnet, type HypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { tempDir } from './support/temp-dir.js'

const TIMEOUT_MS = 5000
let testnet: HypercoreTestnet
beforeAll(async () => { testnet = await startHypercoreTestnet() })
afterAll(async () => { await testnet?.stop() })

const storageOf = new WeakMap<NameSystem, string>()
async function open (storage?: string): Promise<NameSystem> {
  storage ??= await tempDir('remotelog-hypercore-')
  const ns = await hypercoreNs({ storage, bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS })
  storageOf.set(ns, storage)
  return ns
}

nsConformance('hypercore', {
  create: async () => await open(),
  reopen: async (ns) => {
    await ns.close()
    return await open(storageOf.get(ns))
  }
})
