import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { JsonRpcProvider, Wallet, namehash } from 'ethers'
import HyperDHT from 'hyperdht'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { heliaCas } from '../adapters/cas/helia.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { withPinService } from '../adapters/cas/pin-service.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { withSeedService } from '../adapters/ns/seed-service.js'
import { cidOf } from '../core/ids.js'
import { isRemoteLogError } from '../core/errors.js'
import { keyPairFromSecret, nameOfPublicKey } from '../core/signed-record.js'
import { keepLog } from '../devnet/control.js'
import { startDevnet } from '../devnet/devnet.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { tempDir } from './support/temp-dir.js'

const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))
const LOOPBACK_URL = /^http:\/\/127\.0\.0\.1:\d+(\/api\/v0)?$/

/** Every process below `pid` (children, grandchildren, …), from `ps`. */
function descendants (pid: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n').map(l => l.trim().split(/\s+/).map(Number))
  const found: number[] = []
  const walk = (parent: number): void => {
    for (const [child, ppid] of table) if (ppid === parent) { found.push(child); walk(child) }
  }
  walk(pid)
  return found
}

function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

async function rpc (url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(5000) })
  return ((await response.json()) as { result: unknown }).result
}

async function refused (url: string): Promise<boolean> {
  return await fetch(url, { method: 'POST', signal: AbortSignal.timeout(3000) }).then(() => false, () => true)
}

describe('remotelog devnet (the CLI command, in its own process)', () => {
  let child: ChildProcess
  let folder: string
  let settings: DevnetSettings

  beforeAll(async () => {
    folder = await tempDir('remotelog-devnet-')
    child = spawn(process.execPath, [bin, '--json', 'devnet', '--folder', folder, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const lines = createInterface({ input: child.stdout! })
    const [line] = await Promise.race([
      once(lines, 'line') as Promise<[string]>,
      once(child, 'exit').then(([code]) => { throw new Error(`devnet exited ${String(code)}: ${stderr}`) })
    ])
    settings = JSON.parse(line) as DevnetSettings
  }, 90_000)

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      for (const pid of descendants(child.pid!)) { try { process.kill(pid, 'SIGKILL') } catch {} }
      child.kill('SIGKILL')
    }
  })

  it('writes one settings file: every endpoint on 127.0.0.1, ENS addresses, bootstrap list, funded keys', async () => {
    expect(JSON.parse(await readFile(join(folder, 'devnet.json'), 'utf8'))).toEqual(settings)
    expect(settings.pid).toBe(child.pid)
    for (const url of [settings.control.url, settings.service.url, settings.ipfs.kubo.url, settings.ethereum.rpcUrl]) expect(url).toMatch(LOOPBACK_URL)
    expect(settings.ipfs.helia.multiaddrs.length).toBeGreaterThan(0)
    for (const a of settings.ipfs.helia.multiaddrs) expect(a).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${settings.ipfs.helia.peerId}$`))
    expect(settings.hypercore.bootstrap.length).toBeGreaterThan(0)
    for (const node of settings.hypercore.bootstrap) expect(node.host).toBe('127.0.0.1')
    expect(settings.ethereum.accounts).toHaveLength(5)
    for (const account of settings.ethereum.accounts) expect(new Wallet(account.privateKey).address).toBe(account.address)
  })

  it('answers on every endpoint it wrote', async () => {
    const status = await (await fetch(`${settings.control.url}/status`)).json() as DevnetSettings
    expect(status.service.url).toBe(settings.service.url)

    // The service: a Twirp NS Fetch of a name nobody published is a Twirp not_found.
    const nobody = nameOfPublicKey(keyPairFromSecret(new Uint8Array(32).fill(7)).publicKey)
    const fetched = await fetch(`${settings.service.url}/twirp/vac.ns.NS/Fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: nobody }) })
    expect(fetched.status).toBe(404)
    expect(await fetched.json()).toMatchObject({ code: 'not_found' })

    // The Kubo RPC API.
    const id = await (await fetch(`${settings.ipfs.kubo.url}/id`, { method: 'POST' })).json() as { ID: string }
    expect(id.ID).toMatch(/^12D3Koo|^Qm/)

    // The chain: ENS deployed at the written addresses, accounts funded.
    expect(await rpc(settings.ethereum.rpcUrl, 'eth_chainId')).toBe('0x7a69')
    const chain = new JsonRpcProvider(settings.ethereum.rpcUrl, undefined, { batchMaxCount: 1, staticNetwork: true })
    try {
      for (const address of [settings.ethereum.ens.registry, settings.ethereum.ens.resolver, settings.ethereum.ens.registrar]) expect(await chain.getCode(address)).not.toBe('0x')
      const ethOwner = await chain.call({ to: settings.ethereum.ens.registry, data: '0x02571be3' + namehash('eth').slice(2) })
      expect(ethOwner.toLowerCase()).toContain(settings.ethereum.ens.registrar.slice(2).toLowerCase())
      for (const account of settings.ethereum.accounts) expect(await chain.getBalance(account.address)).toBeGreaterThan(0n)
    } finally {
      chain.destroy()
    }

    // The Hypercore DHT: its bootstrap node answers a ping.
    // (ping and destroy come from dht-rpc, which the project's ambient types do not declare)
    const dht = new HyperDHT({ bootstrap: settings.hypercore.bootstrap, host: '127.0.0.1' }) as unknown as {
      ping: (to: { host: string, port: number }) => Promise<{ from: { port: number } }>
      destroy: () => Promise<void>
    }
    try {
      const reply = await dht.ping(settings.hypercore.bootstrap[0])
      expect(reply.from.port).toBe(settings.hypercore.bootstrap[0].port)
    } finally {
      await dht.destroy()
    }

    // The always-on Helia node accepts a libp2p connection.
    const helia = await heliaCas({ offline: false, timeoutMs: 5000 }, { stateDir: await tempDir() })
    try {
      await helia.dial(settings.ipfs.helia.multiaddrs[0])
      expect((helia.helia as HeliaWithLibp2p).libp2p.getConnections().map(c => c.remotePeer.toString())).toContain(settings.ipfs.helia.peerId)
    } finally {
      await helia.close()
    }

    // The control API refuses what is not an address, with a typed error.
    const bad = await keepLog(settings.control.url, 'not an address').catch((e: unknown) => e)
    expect(isRemoteLogError(bad, 'INVALID_INPUT')).toBe(true)
  })

  it('refuses a second devnet in the same folder; one in another folder runs beside it on other ports', async () => {
    const same = await startDevnet({ dir: folder }).catch((e: unknown) => e)
    expect(isRemoteLogError(same, 'CONFLICT')).toBe(true)

    const other = await startDevnet({ dir: await tempDir('remotelog-devnet-') })
    try {
      const ports = (s: DevnetSettings): string[] => [s.control.url, s.service.url, s.ipfs.kubo.url, s.ethereum.rpcUrl, ...s.ipfs.helia.multiaddrs]
        .map(u => /:(\d+)(\/|$)|\/tcp\/(\d+)\//.exec(u)!.slice(1).find(p => p !== undefined)!)
      const mine = ports(settings)
      for (const port of ports(other.settings)) expect(mine).not.toContain(port)
      expect(other.settings.hypercore.bootstrap[0].port).not.toBe(settings.hypercore.bootstrap[0].port)
      expect(await rpc(other.settings.ethereum.rpcUrl, 'eth_chainId')).toBe('0x7a69')
      expect((await fetch(`${settings.control.url}/status`)).ok).toBe(true)
    } finally {
      await other.stop()
    }
    expect(running(other.settings.ethereum.pid)).toBe(false)
    expect(await refused(other.settings.service.url)).toBe(true)
  }, 90_000)

  it('stops everything on Ctrl-C and leaves no process behind', async () => {
    const below = descendants(child.pid!)
    expect(below).toContain(settings.ethereum.pid) // the Hardhat node is a child process
    const exited = once(child, 'exit')
    child.kill('SIGINT')
    const [code] = await exited
    expect(code).toBe(0)
    // Helpers (tsx's esbuild service) leave when their parent's pipe closes: allow them a moment.
    const deadline = Date.now() + 5000
    while (below.some(running) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
    for (const pid of [child.pid!, ...below]) expect(running(pid)).toBe(false)
    const left = execFileSync('ps', ['-eo', 'pid='], { encoding: 'utf8' }).split('\n').map(Number)
    for (const pid of below) expect(left).not.toContain(pid)
    for (const url of [settings.service.url, settings.ethereum.rpcUrl, `${settings.ipfs.kubo.url}/id`, `${settings.control.url}/status`]) expect(await refused(url)).toBe(true)
    const after = JSON.parse(await readFile(join(folder, 'devnet.json'), 'utf8')) as DevnetSettings
    expect(after.stoppedAt).toBeDefined()
  }, 60_000)

  it('with the devnet gone, its pin and seed services fail a put / publish with UNAVAILABLE, without hanging', async () => {
    const cas = withPinService(memoryCas(), { url: settings.control.url, timeoutMs: 3000 })
    const put = await cas.put(new TextEncoder().encode('x')).catch((e: unknown) => e)
    expect(isRemoteLogError(put, 'UNAVAILABLE')).toBe(true)
    expect(String(put)).toMatch(/is the devnet running/)

    const ns = withSeedService(memoryNs({}), { url: settings.control.url, timeoutMs: 3000 })
    const owner = { label: 'default', secret: new Uint8Array(32).fill(1) }
    const name = await ns.nameOf(owner)
    const published = await ns.publish(name, { head: cidOf(new TextEncoder().encode('x')), length: 1, revision: 1 }, owner).catch((e: unknown) => e)
    expect(isRemoteLogError(published, 'UNAVAILABLE')).toBe(true)
    expect(String(published)).toMatch(/moved, but the seed service/)
  })
})
