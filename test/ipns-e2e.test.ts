import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multihashToIPNSRoutingKey } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import { initConfig } from '../config/presets.js'
import type { Endpoint } from '../core/endpoint.js'
import { parseIpnsName } from '../adapters/ns/ipns-record.js'
import type { IpnsNameSystem } from '../adapters/ns/ipns.js'
import { startIpnsHub, type IpnsHub } from '../devnet/ipns-hub.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { startDevnet } from '../devnet/devnet.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { cli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

// The writer runs in its own process (the generic writer script: publish, print, stay until killed).
const writerScript = fileURLToPath(new URL('./support/hypercore-writer.ts', import.meta.url))
let rpc: IpfsRpcNode
let hubDir: string
let hub: IpnsHub
beforeAll(async () => {
  rpc = await startIpfsRpcNode()
  hubDir = await tempDir('remotelog-ipns-e2e-hub-')
  hub = await startIpnsHub({ dir: hubDir, forwardTo: rpc.url })
})
afterAll(async () => {
  await hub?.stop()
  await rpc?.stop()
})

// Nothing on a shared disk: blocks on the IPFS RPC node, the name in the IPNS routing.
const config = (ns: Config['ns']): Config => ({ cas: { driver: 'kubo', url: rpc.url, timeoutMs: 5000 }, ns, log: { mode: 'pointer', pageEntries: 32 } })
const overHttp = (): Config['ns'] => ({ driver: 'ipns', routers: [hub.settings.routingUrl], timeoutMs: 5000 })

async function open (ns: Config['ns']): Promise<Endpoint> {
  const endpoint = await openEndpoint({ dir: await tempDir('remotelog-ipns-reader-'), config: config(ns) })
  onTestFinished(async () => { await endpoint.close() })
  return endpoint
}

/** Runs the writer in a child process until it has published everything; returns its address and a kill. */
async function writerProcess (messages: number, publishes: number): Promise<{ address: string, length: number, kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, await tempDir('remotelog-ipns-writer-'), JSON.stringify(config(overHttp())), String(messages), String(publishes)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  onTestFinished(kill)
  const lines = createInterface({ input: child.stdout })
  const [line] = await Promise.race([
    once(lines, 'line') as Promise<[string]>,
    once(child, 'exit').then(([code]) => { throw new Error(`writer exited ${String(code)}: ${stderr}`) })
  ])
  return { ...JSON.parse(line) as { address: string, length: number }, kill }
}

describe('IPNS end to end (kubo CAS on the RPC node, ipns NS through the devnet hub)', () => {
  it('a log published by one process is read by fresh processes after the writer is gone, through every way of reaching IPNS', async () => {
    const writer = await writerProcess(120, 4)
    expect(writer.address).toMatch(/^ipns:k51qzi5uqu5[a-z0-9]+$/)
    expect(writer.length).toBe(120)
    await writer.kill()

    // The record the writer's process signed: valid for the ipns package, sequence = the 4 publishes.
    const name = parseIpnsName(writer.address.slice('ipns:'.length))
    const held = await hub.held(name.routingKey)
    expect(held).toBeDefined()
    await ipnsValidator(multihashToIPNSRoutingKey(name.peerId.toMultihash()), held!)

    // Republished as IPNS expects (the hub's hourly round, run now), and held across a hub restart.
    expect(await hub.republish()).toBeGreaterThanOrEqual(1)
    const { port } = new URL(hub.settings.routingUrl)
    const listen = hub.settings.multiaddrs.map(a => a.replace(/\/p2p\/.*$/, ''))
    await hub.stop()
    hub = await startIpnsHub({ dir: hubDir, forwardTo: rpc.url, port: Number(port), listen })

    // A fresh reader with its own Helia node (delegated routing HTTP) syncs everything.
    const bob = await open(overHttp())
    await bob.follow(writer.address, 'alice')
    const report = await bob.sync('alice')
    expect(report).toMatchObject({ published: true, length: 120, delivered: 120 })
    const texts: string[] = []
    for await (const m of bob.read('alice')) texts.push(new TextDecoder().decode(m.payload))
    expect(texts[0]).toBe('message 0 from alice')
    expect(texts.at(-1)).toBe('message 119 from alice')
    expect((await (bob.ns as IpnsNameSystem).resolve(name.name)).revision).toBe(4)

    // A reader that joins the hub's DHT instead, and one that asks the RPC node's name/resolve.
    for (const ns of [{ driver: 'ipns', peers: hub.settings.multiaddrs, timeoutMs: 5000 }, { driver: 'ipns', kubo: rpc.url, timeoutMs: 5000 }]) {
      const carol = await open(ns)
      await carol.follow(writer.address, 'alice')
      expect(await carol.sync('alice')).toMatchObject({ length: 120, delivered: 120 })
    }
  })

  it('init --ns ipns with a devnet: the preset points at its hub, and followers of every scheme resolve ipns: addresses', async () => {
    const devnet = { ipns: hub.settings, local: { blocks: '/b', names: '/n' }, service: { url: 'http://127.0.0.1:1' }, ethereum: { rpcUrl: 'http://127.0.0.1:1', ens: { registry: '0x', resolver: '0x', registrar: '0x' } }, hypercore: { bootstrap: [] }, control: { url: 'http://127.0.0.1:1' } } as unknown as DevnetSettings
    const config = initConfig({ stateDir: '/tmp/x', store: '/tmp/s', ns: 'ipns', devnet })
    expect(config.ns).toEqual({ driver: 'ipns', routers: [hub.settings.routingUrl], timeoutMs: 10_000, pollMs: 200 })
    const other = initConfig({ stateDir: '/tmp/x', store: '/tmp/s', ns: 'local', devnet })
    expect(other.resolvers?.ipns).toEqual(config.ns)
  })

  it('on a devnet, from the CLI: init --ns ipns, each command its own process; the devnet\'s RPC node resolves the name too', async () => {
    const root = await tempDir('remotelog-ipns-devnet-')
    const devnet = await startDevnet({ dir: join(root, 'devnet') })
    onTestFinished(async () => { await devnet.stop() })
    expect(devnet.settings.ipns?.routingUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const [alice, bob] = [join(root, 'alice'), join(root, 'bob')]
    for (const dir of [alice, bob]) await cli(['--dir', dir, 'init', '--profile', 'devnet', '--devnet', devnet.settingsFile, '--ns', 'ipns', '--cas', 'kubo'])
    await cli(['--dir', alice, 'append', 'hello', 'from', 'ipns'])
    const address = (await cli(['--dir', alice, 'address'])).trim()
    expect(address).toMatch(/^ipns:k51qzi5uqu5[a-z0-9]+$/)
    await cli(['--dir', bob, 'follow', address, '--as', 'alice'])
    await cli(['--dir', bob, 'sync'])
    const read = (await cli(['--dir', bob, '--json', 'read', 'alice'])).trim().split('\n').map(line => JSON.parse(line) as { seq: number })
    expect(read.map(m => m.seq)).toEqual([0, 1, 2])
    const name = parseIpnsName(address.slice('ipns:'.length))
    const response = await fetch(`${devnet.settings.ipfs.kubo.url}/name/resolve?arg=/ipns/${name.peerId.toString()}`, { method: 'POST' })
    expect(((await response.json()) as { Path: string }).Path).toMatch(/^\/ipfs\/bafkrei/)
  })
})
