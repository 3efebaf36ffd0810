import { randomBytes } from 'node:crypto'
import { IPNSEntry } from '@helia/ipns'
import { multihashToIPNSRoutingKey, unmarshalIPNSRecord, createIPNSRecord, marshalIPNSRecord } from 'ipns'
import { ipnsValidator, validFor } from 'ipns/validator'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { create } from 'kubo-rpc-client'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { expectCode } from './conformance/cas.js'
import { nsConformance } from './conformance/ns.js'
import { tempDir } from './support/temp-dir.js'
import { ipnsNs, openIpnsNs, type IpnsNameSystem } from '../adapters/ns/ipns.js'
import { ipnsKuboNs } from '../adapters/ns/ipns-kubo.js'
import { ipnsKeyOf, parseIpnsName } from '../adapters/ns/ipns-record.js'
import { openNs } from '../adapters/registry.js'
import { startIpnsHub, type IpnsHub } from '../devnet/ipns-hub.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { cidOf } from '../core/ids.js'
import type { OwnerKey } from '../core/name-system.js'

// The devnet's IPNS routing (a DHT server with a delegated routing HTTP API) and its js-ipfs RPC
// node, started once for the file; the hub hands every record it accepts to the RPC node.
let hub: IpnsHub
let rpc: IpfsRpcNode
beforeAll(async () => {
  rpc = await startIpfsRpcNode()
  hub = await startIpnsHub({ dir: await tempDir('remotelog-ipns-hub-'), forwardTo: rpc.url })
})
afterAll(async () => {
  await hub?.stop()
  await rpc?.stop()
})

const overHttp = async (): Promise<IpnsNameSystem> => await ipnsNs({ routers: [hub.settings.routingUrl], timeoutMs: 5000 })
const overDht = async (): Promise<IpnsNameSystem> => await ipnsNs({ peers: hub.settings.multiaddrs, timeoutMs: 5000 })
const overRpc = (): IpnsNameSystem => ipnsKuboNs({ url: rpc.url, timeoutMs: 5000 })
const owner = (label = 'alice'): OwnerKey => ({ label, secret: randomBytes(32) })
const head = (): ReturnType<typeof cidOf> => cidOf(randomBytes(16))

// No disk on the client side: the routing is the storage, so a restart is a new client.
nsConformance('ipns (Helia, delegated routing HTTP to the devnet hub)', {
  create: overHttp,
  reopen: async (ns) => { await ns.close(); return await overHttp() }
})

nsConformance('ipns (Helia, DHT client of the devnet hub)', {
  create: overDht,
  reopen: async (ns) => { await ns.close(); return await overDht() }
})

// name/publish picks its own sequence on js-ipfs, and publish is compare-then-send: revisions are the
// readers' to check (in the head page), as on ENS.
nsConformance('ipns (Kubo RPC API: key/import, name/publish, name/resolve on js-ipfs)', {
  create: async () => overRpc(),
  checksRevisions: false,
  atomicAcrossClients: false
})

describe('ipns records', () => {
  it('are standard IPNS records: the ipns package validates them; V2 signature, sequence = revision, EOL and TTL', async () => {
    const ns = await overHttp()
    onTestFinished(async () => { await ns.close() })
    const alice = owner()
    const name = await ns.nameOf(alice)
    expect(name).toMatch(/^k51qzi5uqu5[a-z0-9]+$/)
    const first = head()
    const before = Date.now()
    await ns.publish(name, { head: first, length: 3, revision: 7 }, alice)
    const bytes = await ns.readRecord(name)
    const routingKey = multihashToIPNSRoutingKey(parseIpnsName(name).peerId.toMultihash())
    await ipnsValidator(routingKey, bytes) // throws unless valid (V2 signature by the name's key, not expired)
    const record = unmarshalIPNSRecord(bytes)
    expect(record.value).toBe(`/ipfs/${first.toString()}`)
    expect(record.sequence).toBe(7n)
    expect(record.signatureV2.byteLength).toBe(64)
    expect(record.ttl).toBe(60_000n * 1_000_000n)
    expect(validFor(record)).toBeGreaterThan(29 * 24 * 3600_000)
    expect(Date.parse(record.validity)).toBeGreaterThanOrEqual(before + 30 * 24 * 3600_000 - 1000)
    expect(await ns.resolve(name)).toMatchObject({ revision: 7 })
    expect((await ns.resolve(name)).head.equals(first)).toBe(true)
    // The hub holds exactly these bytes.
    expect(Buffer.compare(Buffer.from((await hub.held(routingKey))!), Buffer.from(bytes))).toBe(0)
  })

  it('published by our writer, resolve through the RPC node\'s name/resolve (a plain IPFS client sees /ipfs/<head>)', async () => {
    const ns = await overHttp()
    onTestFinished(async () => { await ns.close() })
    const alice = owner()
    const name = await ns.nameOf(alice)
    const first = head()
    await ns.publish(name, { head: first, length: 1, revision: 1 }, alice)
    const client = create({ url: rpc.url })
    const peerId = parseIpnsName(name).peerId.toString()
    const paths: string[] = []
    for await (const path of client.name.resolve(`/ipns/${peerId}`, { timeout: 5000 })) paths.push(path)
    expect(paths).toEqual([`/ipfs/${first.toString()}`])
    // And the Kubo-RPC flavour of this NS reads the same name.
    const viaRpc = overRpc()
    expect((await viaRpc.resolve(name)).head.equals(first)).toBe(true)
    const second = head()
    await ns.publish(name, { head: second, length: 2, revision: 2 }, alice, { previous: first })
    expect((await viaRpc.resolve(name)).head.equals(second)).toBe(true)
  })

  it('live in one routing: a DHT client\'s publish reads over HTTP and on the RPC node, and the other way round', async () => {
    const dht = await overDht()
    const http = await overHttp()
    onTestFinished(async () => { await dht.close(); await http.close() })
    const alice = owner()
    const name = await dht.nameOf(alice)
    const first = head()
    await dht.publish(name, { head: first, length: 1, revision: 1 }, alice)
    expect((await http.resolve(name)).head.equals(first)).toBe(true)
    expect((await overRpc().resolve(name)).head.equals(first)).toBe(true)
    const second = head()
    await http.publish(name, { head: second, length: 2, revision: 2 }, alice, { previous: first })
    expect((await dht.resolve(name)).head.equals(second)).toBe(true)
    // The owner's client going back is CONFLICT before anything is sent (the hub's own refusal: the tests above).
    await expectCode(dht.publish(name, { head: first, length: 1, revision: 1 }, alice, { previous: second }), 'CONFLICT')
    expect((await http.resolve(name)).revision).toBe(2)
  })

  it('over the Kubo RPC API: the log\'s key is imported (key/import), the node signs valid records for the same k51 name', async () => {
    const ns = overRpc()
    const alice = owner()
    const name = await ns.nameOf(alice)
    expect(name).toBe(await (await overHttp().then(n => { onTestFinished(async () => { await n.close() }); return n })).nameOf(alice))
    const first = head()
    await ns.publish(name, { head: first, length: 1, revision: 1 }, alice)
    const keys = await create({ url: rpc.url }).key.list()
    expect(keys.map(k => parseIpnsName(k.id).name)).toContain(name)
    const bytes = await ns.readRecord(name)
    await ipnsValidator(multihashToIPNSRoutingKey(parseIpnsName(name).peerId.toMultihash()), bytes)
    expect(unmarshalIPNSRecord(bytes).value).toBe(`/ipfs/${first.toString()}`)
  })

  it('the hub refuses an older record and one of another key; readers keep the newest they saw', async () => {
    const ns = await overHttp()
    onTestFinished(async () => { await ns.close() })
    const alice = owner()
    const name = await ns.nameOf(alice)
    const first = head()
    await ns.publish(name, { head: first, length: 1, revision: 1 }, alice)
    const oldRecord = await ns.readRecord(name)
    const second = head()
    await ns.publish(name, { head: second, length: 2, revision: 2 }, alice, { previous: first })
    expect((await ns.resolve(name)).revision).toBe(2)

    const put = async (bytes: Uint8Array): Promise<number> => (await fetch(`${hub.settings.routingUrl}/routing/v1/ipns/${name}`, {
      method: 'PUT', headers: { 'content-type': 'application/vnd.ipfs.ipns-record' }, body: Buffer.from(bytes)
    })).status
    // A replay of the owner's own older record (a rollback), straight to the routing.
    expect(await put(oldRecord)).toBe(409)
    // A well-formed record for this name signed by another key.
    const mallory = await generateKeyPairFromSeed('Ed25519', randomBytes(32))
    const forged = IPNSEntry.decode(marshalIPNSRecord(await createIPNSRecord(mallory, `/ipfs/${head().toString()}`, 99n, 3600_000)))
    expect(await put(IPNSEntry.encode(forged))).not.toBe(200)
    const fresh = await overHttp()
    onTestFinished(async () => { await fresh.close() })
    expect((await fresh.resolve(name)).head.equals(second)).toBe(true)

    // Through the owner's client the rollback is CONFLICT before anything is sent.
    await expectCode(ns.publish(name, { head: first, length: 1, revision: 1 }, alice), 'CONFLICT')
    await expectCode(ns.publish(name, { head: first, length: 1, revision: 1 }, alice, { previous: second }), 'CONFLICT')
    // Another key: PERMISSION, nothing signed.
    await expectCode(ns.publish(name, { head: head(), length: 3, revision: 3 }, owner('mallory'), { previous: second }), 'PERMISSION')
  })

  it('a routing that serves an older record than one a reader saw: the reader never goes back; another key\'s record is INTEGRITY', async () => {
    // A stand-in delegated router that serves whatever record it is told to, as a hostile one could.
    const { createServer } = await import('node:http')
    let served: Uint8Array | undefined
    const server = createServer((req, res) => {
      if (served === undefined) { res.writeHead(404).end(); return }
      res.writeHead(200, { 'content-type': 'application/vnd.ipfs.ipns-record' }).end(Buffer.from(served))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => { server.close() })
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const alice = owner()
    const key = await ipnsKeyOf(alice.secret)
    const sign = async (seq: bigint): Promise<Uint8Array> => marshalIPNSRecord(await createIPNSRecord(key, `/ipfs/${head().toString()}`, seq, 3600_000))
    const reader = await ipnsNs({ routers: [url], timeoutMs: 3000 })
    onTestFinished(async () => { await reader.close() })
    const name = await reader.nameOf(alice)
    await expectCode(reader.resolve(name), 'NOT_FOUND')
    served = await sign(5n)
    expect((await reader.resolve(name)).revision).toBe(5)
    served = await sign(4n)
    // Helia's IPNS cache takes part in every resolve: the reader keeps the newer record it saw.
    expect((await reader.resolve(name)).revision).toBe(5)
    served = await sign(6n)
    expect((await reader.resolve(name)).revision).toBe(6)
    served = await sign(2n)
    expect((await reader.resolve(name)).revision).toBe(6)
    // A record for the name signed by another key is not accepted as the name's value.
    const foreign = await ipnsNs({ routers: [url], timeoutMs: 3000 })
    onTestFinished(async () => { await foreign.close() })
    served = marshalIPNSRecord(await createIPNSRecord(await generateKeyPairFromSeed('Ed25519', randomBytes(32)), `/ipfs/${head().toString()}`, 9n, 3600_000))
    await expectCode(foreign.resolve(name), 'INTEGRITY')
  })

  it('config errors and unreachable routings say what is wrong', async () => {
    await expectCode(openIpnsNs({}), 'INVALID_CONFIG')
    await expectCode(openNs({ driver: 'ipns', routers: 'http://x' }, { stateDir: '/tmp' }), 'INVALID_CONFIG')
    await expectCode(openNs({ driver: 'ipns', kubo: 'ftp://x' }, { stateDir: '/tmp' }), 'INVALID_CONFIG')
    const ns = await ipnsNs({ routers: ['http://127.0.0.1:9'], timeoutMs: 1000 })
    onTestFinished(async () => { await ns.close() })
    const alice = owner()
    const name = await ns.nameOf(alice)
    await expectCode(ns.resolve(name), 'UNAVAILABLE')
    await expectCode(ns.publish(name, { head: head(), length: 1, revision: 1 }, alice), 'UNAVAILABLE')
    await expectCode(ns.resolve('not-a-name'), 'INVALID_INPUT')
    await expectCode(overRpc().resolve(name), 'NOT_FOUND')
    await expectCode(ipnsKuboNs({ url: 'http://127.0.0.1:9', timeoutMs: 1000 }).resolve(name), 'UNAVAILABLE')
  })
})
