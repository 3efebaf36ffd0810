// ENS name system (issue 4): publish (checks + tx + receipt) and resolve latency over 100 iterations
// against `hardhat node` on loopback, gas per publish, side by side with the local NS in the same
// run, and ethers' generic ENS API as the resolve figure to beat.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Contract, EnsPlugin, JsonRpcProvider, Network, namehash } from 'ethers'
import { ensNs, ensAccountOf, type EnsPublishReceipt } from '../adapters/ns/ens.js'
import { localNs } from '../adapters/ns/local.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem, OwnerKey } from '../core/name-system.js'
import { deployEns } from '../devnet/ens-deploy.js'
import { startHardhatNode } from '../devnet/hardhat-node.js'
import { percentile, report, sample, since, type Figure } from './support.js'
import type { CID } from 'multiformats/cid'

const N = 100
const WARMUP = 5

/** Publishes N successive heads (each naming the previous) and resolves N times. */
async function latencies (ns: NameSystem, owner: OwnerKey): Promise<{ publish: number[], resolve: number[], receipts: EnsPublishReceipt[] }> {
  const name = await ns.nameOf(owner)
  const receipts: EnsPublishReceipt[] = []
  let previous: CID | undefined
  const publishOnce = async (i: number): Promise<void> => {
    const head = cidOf(randomBytes(32))
    receipts.push(await ns.publish(name, { head, length: i + 1, revision: receipts.length + 1 }, owner, { previous }) as EnsPublishReceipt)
    previous = head
  }
  await sample(WARMUP, publishOnce)
  const publish = await sample(N, publishOnce)
  await sample(WARMUP, async () => await ns.resolve(name))
  const resolve = await sample(N, async () => await ns.resolve(name))
  return { publish, resolve, receipts }
}

const figures: Figure[] = []
const stats = (name: string, unit: string, samples: number[], baseline?: string): void => {
  figures.push({ name: `${name} p50`, value: percentile(samples, 50), unit, baseline: baseline && `${baseline} p50` })
  figures.push({ name: `${name} p95`, value: percentile(samples, 95), unit, baseline: baseline && `${baseline} p95` })
}

const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-ens-'))
let started = performance.now()
const node = await startHardhatNode()
const nodeMs = since(started)
try {
  started = performance.now()
  const deployment = await deployEns({ rpcUrl: node.url })
  const deployMs = since(started)

  const local = localNs({ path: join(dir, 'names') })
  const localRun = await latencies(local, { label: 'bench', secret: randomBytes(32) })
  await local.close()

  const ens = await ensNs({ rpcUrl: node.url, ...deployment })
  const owner = { label: 'bench', secret: randomBytes(32) }
  const ensRun = await latencies(ens, owner)
  await ens.close()

  // ethers' generic ENS API (registry found through an EnsPlugin, resolver wildcard checks, then
  // contenthash) on a name whose contenthash it can decode (dag-pb CIDv0; it rejects raw CIDs).
  const network = new Network('remotelog-devnet', deployment.chainId)
  network.attachPlugin(new EnsPlugin(deployment.registry, deployment.chainId))
  const generic = new JsonRpcProvider(node.url, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 })
  const website = { label: 'website', secret: randomBytes(32) }
  const ensForWebsite = await ensNs({ rpcUrl: node.url, ...deployment })
  const websiteName = await ensForWebsite.nameOf(website)
  const wallet = ensAccountOf(website).connect(generic)
  const resolver = new Contract(deployment.resolver, ['function setContenthash(bytes32 node, bytes hash)'], wallet)
  await (await resolver.setContenthash(namehash(websiteName), '0xe3010170122029f2d17be6139079dc48696d1f582a8530eb9805b561eda517e22a892c7e3f1f')).wait()
  await ensForWebsite.close()
  const genericResolve = async (): Promise<void> => {
    const found = await generic.getResolver(websiteName)
    if (await found?.getContentHash() == null) throw new Error('ethers ENS API found no contenthash')
  }
  await sample(WARMUP, genericResolve)
  const genericMs = await sample(N, genericResolve)
  // The same with ethers' default request batching (10 ms stall), as most code uses it.
  const batched = new JsonRpcProvider(node.url, network, { staticNetwork: network, cacheTimeout: -1 })
  const batchedResolve = async (): Promise<void> => { await (await batched.getResolver(websiteName))?.getContentHash() }
  await sample(WARMUP, batchedResolve)
  const batchedMs = await sample(N, batchedResolve)
  generic.destroy()
  batched.destroy()

  stats('local NS publish', 'ms', localRun.publish)
  stats('local NS resolve', 'ms', localRun.resolve)
  stats('ens publish (checks + tx + receipt)', 'ms', ensRun.publish, 'local NS publish')
  stats('ens resolve (registry + resolver read directly)', 'ms', ensRun.resolve, 'local NS resolve')
  stats('ethers ENS API resolve (getResolver + getContentHash)', 'ms', genericMs, 'ens resolve (registry + resolver read directly)')
  stats('ethers ENS API resolve, default batching', 'ms', batchedMs, 'ens resolve (registry + resolver read directly)')
  const overwrites = ensRun.receipts.slice(1).map(r => r.gasUsed)
  figures.push({ name: 'ens gas, first contenthash write', value: ensRun.receipts[0].gasUsed, unit: 'gas' })
  figures.push({ name: 'ens gas, overwrite (median)', value: percentile(overwrites, 50), unit: 'gas' })
  figures.push({ name: 'ens gas, overwrite (max)', value: Math.max(...overwrites), unit: 'gas' })
  figures.push({ name: 'hardhat node start', value: nodeMs, unit: 'ms' })
  figures.push({ name: 'ENS deployment (3 contracts + eth)', value: deployMs, unit: 'ms' })
  report(`ENS name system vs local NS, ${N} iterations, hardhat node on ${node.url}`, figures)
} finally {
  await node.stop()
  await rm(dir, { recursive: true, force: true })
}
