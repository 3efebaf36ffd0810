import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import type { CID } from 'multiformats/cid'
import { ensNs, type EnsNsOptions } from '../adapters/ns/ens.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem, OwnerKey, ResolvedHead } from '../core/name-system.js'
import { deployEns } from '../devnet/ens-deploy.js'
import { inProcessHardhat } from '../devnet/hardhat-network.js'
import { startHardhatNode } from '../devnet/hardhat-node.js'
import { closedPort } from './conformance/cas.js'

// ENS watches hear of new blocks (eth_subscribe newHeads) instead of polling: these watches poll
// every ten minutes, so only the subscription can deliver in time.
const NO_POLL = 600_000
let labels = 0
const newOwner = (): OwnerKey => ({ label: `push${process.pid}x${labels++}`, secret: randomBytes(32) })

/** Publishes `count` heads through `writer` while `reader` watches; resolves once the watch saw each. */
async function watchWhilePublishing (writer: NameSystem, reader: NameSystem, count: number, pollMs = NO_POLL): Promise<void> {
  const owner = newOwner()
  const name = await writer.nameOf(owner)
  const controller = new AbortController()
  onTestFinished(() => controller.abort())
  const seen: ResolvedHead[] = []
  let changed: (() => void) | undefined
  const watching = (async () => {
    for await (const head of reader.watch!(name, { signal: controller.signal, pollMs })) { seen.push(head); changed?.() }
  })()
  let previous: CID | undefined
  for (let revision = 1; revision <= count; revision++) {
    const head = cidOf(randomBytes(16))
    await writer.publish(name, { head, length: revision, revision }, owner, { previous })
    previous = head
    while (seen.at(-1)?.head.equals(head) !== true) await new Promise<void>(resolve => { changed = resolve })
  }
  controller.abort()
  await watching
  expect(seen.map(h => h.head.toString()).at(-1)).toBe(previous?.toString())
}

describe('ens watch on the in-process chain (EIP-1193 events)', async () => {
  const provider = await inProcessHardhat() as Awaited<ReturnType<typeof inProcessHardhat>> & { listenerCount: (event: string) => number }
  const deployment = await deployEns({ provider })
  const options: EnsNsOptions = { provider, registry: deployment.registry, resolver: deployment.resolver, registrar: deployment.registrar }

  it('delivers each publish on its block, and unsubscribes when the last watch ends', async () => {
    const before = provider.listenerCount('message')
    const writer = await ensNs(options)
    const reader = await ensNs(options)
    onTestFinished(async () => { await writer.close(); await reader.close() })
    await watchWhilePublishing(writer, reader, 4)
    expect(provider.listenerCount('message')).toBe(before)
  })
})

describe('ens watch on `hardhat node` (WebSocket)', async () => {
  const node = await startHardhatNode()
  afterAll(async () => { await node.stop() })
  const deployment = await deployEns({ rpcUrl: node.url })
  const options: EnsNsOptions = { rpcUrl: node.url, registry: deployment.registry, resolver: deployment.resolver, registrar: deployment.registrar }
  const open = async (extra: Partial<EnsNsOptions> = {}): Promise<NameSystem> => {
    const ns = await ensNs({ ...options, ...extra })
    onTestFinished(async () => { await ns.close() })
    return ns
  }

  it('subscribes to newHeads over the RPC URL\'s WebSocket twin and delivers each publish', async () => {
    await watchWhilePublishing(await open(), await open(), 4)
  })

  it('polls every pollMs where no subscription is to be had (wsUrl: false, or nothing listening)', async () => {
    await watchWhilePublishing(await open(), await open({ wsUrl: false }), 2, 50)
    await watchWhilePublishing(await open(), await open({ wsUrl: `ws://127.0.0.1:${await closedPort()}` }), 2, 50)
  })
})
