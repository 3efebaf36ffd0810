import { randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { decode as decodeContenthashText, getCodec } from '@ensdomains/content-hash'
import { BrowserProvider, Contract, ContractFactory, Wallet, namehash, type InterfaceAbi } from 'ethers'
import { createRequire } from 'node:module'
import { afterAll, describe, expect, it } from 'vitest'
import { nsConformance } from './conformance/ns.js'
import { expectCode } from './conformance/cas.js'
import { ensAccountOf, ensNs, type EnsPublishReceipt } from '../adapters/ns/ens.js'
import { RESOLVER_ABI, REGISTRY_ABI, encodeContenthash } from '../adapters/ns/ens-contracts.js'
import { openNs } from '../adapters/registry.js'
import { deployEns } from '../devnet/ens-deploy.js'
import { inProcessHardhat } from '../devnet/hardhat-network.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem, OwnerKey } from '../core/name-system.js'

// One in-process Hardhat chain for this file, ENS deployed on it once.
const provider = await inProcessHardhat()
const deployment = await deployEns({ provider })
const options = { provider, registry: deployment.registry, resolver: deployment.resolver, registrar: deployment.registrar }

let labels = 0
const newOwner = (label: string): OwnerKey => ({ label: `${label}${process.pid}x${labels++}`, secret: randomBytes(32) })

nsConformance('ens (in-process Hardhat)', {
  create: async () => await ensNs({ ...options, pollMs: 50 }),
  // The chain keeps names and values; a new client sees them.
  reopen: async (ns) => {
    await ns.close()
    return await ensNs(options)
  },
  newOwner,
  // ENS holds only a contenthash, and a publish is compare-then-send: readers check page revisions.
  checksRevisions: false,
  atomicAcrossClients: false
})

describe('ens name system', () => {
  const chain = new BrowserProvider(provider)
  const open: NameSystem[] = []
  const client = async (extra: Record<string, unknown> = {}): Promise<NameSystem> => {
    const ns = await ensNs({ ...options, ...extra })
    open.push(ns)
    return ns
  }
  afterAll(async () => {
    await Promise.all(open.map(async ns => await ns.close()))
    chain.destroy()
  })

  const head = (): ReturnType<typeof cidOf> => cidOf(randomBytes(16))
  const resolverOf = (signer?: Wallet): Contract => new Contract(deployment.resolver, RESOLVER_ABI, signer ?? chain)

  it('deploys idempotently: a second deployment sends nothing and returns the same addresses', async () => {
    const nonce = await chain.getTransactionCount(deployment.deployer)
    expect(nonce).toBe(4)
    const again = await deployEns({ provider })
    expect(again).toEqual(deployment)
    expect(await chain.getTransactionCount(deployment.deployer)).toBe(nonce)
    const registry = new Contract(deployment.registry, REGISTRY_ABI, chain)
    expect(await registry.owner(namehash('eth'))).toBe(deployment.registrar)
  })

  it('claims <label>.eth for the owner\'s account and points it at the resolver', async () => {
    const ns = await client()
    const owner = newOwner('claim')
    const name = await ns.nameOf(owner)
    expect(name).toBe(`${owner.label}.eth`)
    const registry = new Contract(deployment.registry, REGISTRY_ABI, chain)
    expect(await registry.owner(namehash(name))).toBe(ensAccountOf(owner).address)
    expect(await registry.resolver(namehash(name))).toBe(deployment.resolver)
    // Another key cannot claim the same label.
    await expectCode(ns.nameOf({ label: owner.label, secret: randomBytes(32) }), 'PERMISSION')
  })

  it('stores an EIP-1577 ipfs-ns contenthash that @ensdomains/content-hash decodes to the head\'s CID', async () => {
    const ns = await client()
    const owner = newOwner('hash')
    const name = await ns.nameOf(owner)
    const cid = head()
    await ns.publish(name, { head: cid, length: 1, revision: 1 }, owner)
    const raw = await resolverOf().contenthash(namehash(name)) as string
    expect(raw.startsWith('0xe301')).toBe(true)
    expect(getCodec(raw)).toBe('ipfs')
    expect(decodeContenthashText(raw)).toBe(cid.toString())
    expect((await ns.resolve(name)).head.toString()).toBe(cid.toString())
  })

  it('reports gas and the transaction of each publish; a first write costs more than an overwrite', async () => {
    const ns = await client()
    const owner = newOwner('gas')
    const name = await ns.nameOf(owner)
    const first = head()
    const a = await ns.publish(name, { head: first, length: 1, revision: 1 }, owner) as EnsPublishReceipt
    const b = await ns.publish(name, { head: head(), length: 2, revision: 2 }, owner, { previous: first }) as EnsPublishReceipt
    for (const receipt of [a, b]) {
      const onChain = await chain.getTransactionReceipt(receipt.txHash!)
      expect(onChain?.status).toBe(1)
      expect(Number(onChain?.gasUsed)).toBe(receipt.gasUsed)
      expect(onChain?.from).toBe(ensAccountOf(owner).address)
    }
    expect(a.gasUsed).toBeGreaterThan(b.gasUsed)
  })

  it('sends nothing when the name already holds the head (a publish finished before a crash)', async () => {
    const ns = await client()
    const owner = newOwner('again')
    const name = await ns.nameOf(owner)
    const first = head()
    await ns.publish(name, { head: first, length: 1, revision: 1 }, owner)
    const nonce = await chain.getTransactionCount(ensAccountOf(owner).address)
    const receipt = await ns.publish(name, { head: first, length: 1, revision: 1 }, owner) as EnsPublishReceipt
    expect(receipt).toMatchObject({ gasUsed: 0, txHash: null })
    expect(await chain.getTransactionCount(ensAccountOf(owner).address)).toBe(nonce)
  })

  it('refuses a non-owner with PERMISSION before spending any gas', async () => {
    const ns = await client()
    const alice = newOwner('alice')
    const mallory = newOwner('mallory')
    const name = await ns.nameOf(alice)
    const first = head()
    await ns.publish(name, { head: first, length: 1, revision: 1 }, alice)
    await expectCode(ns.publish(name, { head: head(), length: 2, revision: 2 }, mallory, { previous: first }), 'PERMISSION')
    const account = ensAccountOf(mallory).address
    expect(await chain.getTransactionCount(account)).toBe(0)
    expect(await chain.getBalance(account)).toBe(0n)
    expect((await ns.resolve(name)).head.toString()).toBe(first.toString())
  })

  it('maps a reverted setContenthash to PERMISSION', async () => {
    const ns = await client()
    const owner = newOwner('revert')
    const name = await ns.nameOf(owner)
    // A PublicResolver bound to an address with no registry at it authorises nobody: its
    // setContenthash reverts although the registry says the caller owns the name.
    const funder = await chain.getSigner(0)
    const { abi, bytecode } = createRequire(import.meta.url)('@ensdomains/resolver/build/contracts/PublicResolver.json') as { abi: InterfaceAbi, bytecode: string }
    const refusing = await (await new ContractFactory(abi, bytecode, funder).deploy(Wallet.createRandom().address)).getAddress()
    const wallet = ensAccountOf(owner).connect(chain)
    const registry = new Contract(deployment.registry, REGISTRY_ABI, wallet)
    await (await registry.setResolver(namehash(name), refusing)).wait()
    const error = await ns.publish(name, { head: head(), length: 1, revision: 1 }, owner).catch((e: unknown) => e)
    await expectCode(Promise.reject(error), 'PERMISSION')
    expect((error as Error).message).toContain('refused setContenthash')
    expect(((error as Error).cause as { code?: string }).code).toBe('CALL_EXCEPTION')
  })

  it('follows the resolver the registry names, not the configured one, when the owner moves it', async () => {
    const ns = await client()
    const owner = newOwner('moved')
    const name = await ns.nameOf(owner)
    const first = head()
    await ns.publish(name, { head: first, length: 1, revision: 1 }, owner)
    const funder = await chain.getSigner(0)
    const { abi, bytecode } = createRequire(import.meta.url)('@ensdomains/resolver/build/contracts/PublicResolver.json') as { abi: InterfaceAbi, bytecode: string }
    const other = await (await new ContractFactory(abi, bytecode, funder).deploy(deployment.registry)).getAddress()
    const registry = new Contract(deployment.registry, REGISTRY_ABI, ensAccountOf(owner).connect(chain))
    await (await registry.setResolver(namehash(name), other)).wait()
    // The new resolver holds nothing yet: the name no longer points at `first`.
    await expectCode(ns.resolve(name), 'NOT_FOUND')
    await expectCode(ns.publish(name, { head: head(), length: 2, revision: 2 }, owner, { previous: first }), 'CONFLICT')
    const second = head()
    await ns.publish(name, { head: second, length: 2, revision: 2 }, owner)
    expect(await new Contract(other, RESOLVER_ABI, chain).contenthash(namehash(name))).toBe(encodeContenthash(second))
    expect((await ns.resolve(name)).head.toString()).toBe(second.toString())
    expect((await (await client()).resolve(name)).head.toString()).toBe(second.toString())
  })

  it('fails to resolve with NOT_FOUND when the name has no resolver', async () => {
    const ns = await client()
    await expectCode(ns.resolve(`${newOwner('unclaimed').label}.eth`), 'NOT_FOUND')
  })

  it('rejects a contenthash that is not an ipfs-ns remotelog id with MALFORMED', async () => {
    const ns = await client()
    const owner = newOwner('foreign')
    const name = await ns.nameOf(owner)
    const wallet = ensAccountOf(owner).connect(chain)
    // A dag-pb CIDv0 website, as most ENS names hold: valid EIP-1577, not a remotelog head.
    const website = '0xe3010170122029f2d17be6139079dc48696d1f582a8530eb9805b561eda517e22a892c7e3f1f'
    await (await resolverOf(wallet).setContenthash(namehash(name), website)).wait()
    await expectCode(ns.resolve(name), 'MALFORMED')
  })

  it('rejects names that are not normalised <label>.eth names with INVALID_INPUT', async () => {
    const ns = await client()
    for (const name of ['Alice.eth', 'alice.com', 'a.alice.eth', 'eth', '']) await expectCode(ns.resolve(name), 'INVALID_INPUT')
    await expectCode(ns.nameOf({ label: 'a.b', secret: randomBytes(32) }), 'INVALID_INPUT')
  })

  it('rejects bad settings with INVALID_CONFIG', async () => {
    await expectCode(ensNs({ ...options, registry: 'nope' }), 'INVALID_CONFIG')
    await expectCode(ensNs({ ...options, confirmations: 0 }), 'INVALID_CONFIG')
    const noRegistry = await client({ registry: Wallet.createRandom().address })
    await expectCode(noRegistry.resolve('alice.eth'), 'INVALID_CONFIG')
  })

  it('honours an abort signal with ABORTED', async () => {
    const ns = await client()
    const controller = new AbortController()
    controller.abort()
    await expectCode(ns.resolve('alice.eth', { signal: controller.signal }), 'ABORTED')
  })

  it('is chosen by configuration through the backend registry', async () => {
    const ns = await openNs({ driver: 'ens', ...options }, { stateDir: '/nonexistent' })
    open.push(ns)
    expect(ns.scheme).toBe('ens')
    expect(ns.capabilities.records).toBe(false)
    const owner = newOwner('config')
    const name = await ns.nameOf(owner)
    const cid = head()
    await ns.publish(name, { head: cid, length: 1, revision: 1 }, owner)
    expect((await ns.resolve(name)).head.toString()).toBe(cid.toString())
  })
})

describe('ens name system: chain trouble', () => {
  async function listen (server: Server): Promise<number> {
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return (server.address() as { port: number }).port
  }

  it('reports an unreachable chain as UNAVAILABLE naming the RPC URL', async () => {
    const server = createServer()
    const port = await listen(server)
    await new Promise(resolve => server.close(resolve))
    const rpcUrl = `http://127.0.0.1:${port}`
    const ns = await ensNs({ ...options, provider: undefined, rpcUrl })
    for (const attempt of [ns.resolve('alice.eth'), ns.nameOf(newOwner('down')), ns.publish('alice.eth', { head: cidOf(randomBytes(8)), length: 1, revision: 1 }, newOwner('down'))]) {
      const error = await attempt.catch((e: unknown) => e)
      await expectCode(Promise.reject(error), 'UNAVAILABLE')
      expect((error as Error).message).toContain(rpcUrl)
    }
    await ns.close()
  })

  it('gives up on a node that never answers with TIMEOUT', async () => {
    const sockets: Socket[] = []
    const silent = createServer(socket => { sockets.push(socket) })
    const port = await listen(silent)
    const ns = await ensNs({ ...options, provider: undefined, rpcUrl: `http://127.0.0.1:${port}`, timeoutMs: 300 })
    await expectCode(ns.resolve('alice.eth'), 'TIMEOUT')
    await ns.close()
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => silent.close(resolve))
  })
})
