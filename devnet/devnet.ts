import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { readJson, writeJson } from '../core/atomic-json.js'
import { fail } from '../core/errors.js'
import { parseAddress } from '../core/address.js'
import { startSeeder, type Seeder } from '../adapters/ns/hypercore-seeder.js'
import { devnetResolvers } from '../config/presets.js'
import { startControlServer, type KeepRequest, type KeepResult } from './control.js'
import { deployEns } from './ens-deploy.js'
import { fundedAccounts } from './funded-accounts.js'
import { startHardhatNode, type HardhatNode } from './hardhat-node.js'
import { startHypercoreTestnet, type HypercoreTestnet } from './hypercore-testnet.js'
import { findNamed, startDnsServer, type DnsServer } from './dns-server.js'
import { startIpfsPinner, type IpfsPinner } from './ipfs-pinner.js'
import { startIpfsRpcNode, type IpfsRpcNode } from './ipfs-rpc-node.js'
import { startIpnsHub } from './ipns-hub.js'
import { startRemoteLogService } from './remote-log-service.js'
import { devnetAlive, settingsPath, type DevnetSettings } from './settings.js'

export interface DevnetOptions {
  /** The devnet's folder: repos, seeder storage, service store, and `devnet.json`. */
  dir: string
  /** Progress lines while starting and stopping. */
  log?: (line: string) => void
  /** Bound on the seeder's and the IPFS node's network waits. Default 10 000 ms. */
  timeoutMs?: number
  /** Funded accounts whose keys go in the settings. Default 5. */
  accounts?: number
}

/** A running devnet. */
export interface Devnet {
  readonly settings: DevnetSettings
  /** Where the settings were written (`<dir>/devnet.json`). */
  readonly settingsFile: string
  /** Keeps a log available while its writer is offline (seeds `hypercore:` logs; pins with `pin`). */
  keep (address: string, options?: { pin?: boolean, signal?: AbortSignal }): Promise<KeepResult>
  /** Stops every backend, the Hardhat child process included, and marks the settings stopped. */
  stop (): Promise<void>
}

type Stop = () => Promise<void>

/** Folders running a devnet in this process: a second start in one folder is refused. */
const running = new Set<string>()

/**
 * Starts every real backend on 127.0.0.1, each on a free port: an always-on Helia node that pins
 * the logs it is told to keep, a js-ipfs node behind the Kubo RPC API, the IPNS routing (a DHT
 * server with a delegated routing HTTP API, see ipns-hub.ts), a Hardhat node with ENS
 * deployed and funded accounts, a Hypercore DHT testnet plus seeder, the remote log service, BIND 9's
 * `named` authoritative for a zone with TSIG-signed dynamic updates (when installed), and a
 * small control API. Writes `<dir>/devnet.json` (see `DevnetSettings`). A second devnet in
 * another folder does not collide; a second one in the same folder is refused (CONFLICT).
 * @example
 * const devnet = await startDevnet({ dir: '/tmp/devnet' })
 * const config = initConfig({ stateDir, store, devnet: devnet.settings, cas: 'helia', ns: 'ens', name: 'alice' })
 * await devnet.stop()
 */
export async function startDevnet (options: DevnetOptions): Promise<Devnet> {
  const dir = resolve(options.dir)
  const log = options.log ?? (() => {})
  const timeoutMs = options.timeoutMs ?? 10_000
  const file = settingsPath(dir)
  const previous = await readJson<DevnetSettings>(file).catch(() => undefined)
  if (running.has(dir) || (previous !== undefined && previous.pid !== process.pid && devnetAlive(previous))) {
    throw fail('CONFLICT', `a devnet is already running in ${dir}${previous !== undefined ? ` (pid ${previous.pid})` : ''}`)
  }
  running.add(dir)
  await mkdir(dir, { recursive: true })

  const stops: Stop[] = []
  const stopAll = async (): Promise<void> => {
    // Newest first: the control API and the pinner go before the backends they talk to.
    for (const stop of stops.splice(0).reverse()) await stop().catch((e: unknown) => log(`stop: ${String(e)}`))
  }
  const started = <T>(thing: T, stop: (t: T) => Promise<void>): T => { stops.push(async () => { await stop(thing) }); return thing }

  try {
    const [chain, hyper, kubo, service, dns] = await settleAll([
      (async () => {
        log('starting hardhat node…')
        const node = started(await startHardhatNode(), async n => { await n.stop() })
        const ens = await deployEns({ rpcUrl: node.url })
        const accounts = await fundedAccounts(node.url, options.accounts ?? 5)
        log(`  chain ${node.url} (pid ${node.pid}), ENS registry ${ens.registry}`)
        return { node, ens, accounts }
      })(),
      (async () => {
        log('starting hypercore DHT testnet and seeder…')
        const testnet = started(await startHypercoreTestnet(), async t => { await t.stop() })
        const seeder = started(await startSeeder({ storage: join(dir, 'hypercore-seeder'), bootstrap: testnet.bootstrap, timeoutMs }), async s => { await s.close() })
        log(`  DHT bootstrap ${testnet.bootstrap.map(b => `${b.host}:${b.port}`).join(', ')}`)
        return { testnet, seeder }
      })(),
      (async () => {
        log('starting the IPFS node of the Kubo RPC API (js-ipfs)…')
        const node = started(await startIpfsRpcNode({ repo: join(dir, 'kubo') }), async n => { await n.stop() })
        log(`  kubo RPC ${node.url}`)
        return node
      })(),
      (async () => {
        log('starting the remote log service…')
        const s = started(await startRemoteLogService({ dir: join(dir, 'service') }), async s => { await s.stop() })
        log(`  service ${s.url}`)
        return s
      })(),
      (async () => {
        // DNS is optional: a machine without BIND still gets every other backend.
        if (await findNamed() === undefined) { log('no BIND 9 `named` here (node scripts/ensure-test-tools.mjs installs it): no dns name system'); return undefined }
        log('starting BIND 9 named (dns)…')
        const d = started(await startDnsServer({ dir: join(dir, 'dns') }), async d => { await d.stop() })
        log(`  dns ${d.server}, zone ${d.zone}`)
        return d
      })()
    ]) as [{ node: HardhatNode, ens: Awaited<ReturnType<typeof deployEns>>, accounts: DevnetSettings['ethereum']['accounts'] }, { testnet: HypercoreTestnet, seeder: Seeder }, IpfsRpcNode, { url: string }, DnsServer | undefined]

    // IPNS: a DHT server with a delegated routing HTTP API, handing what it accepts to the RPC node too.
    log('starting the IPNS routing (DHT server + delegated routing HTTP)…')
    const ipnsHub = started(await startIpnsHub({ dir: join(dir, 'ipns'), forwardTo: kubo.url, onError: e => log(`ipns: ${e instanceof Error ? e.message : String(e)}`) }), async h => { await h.stop() })
    log(`  ipns ${ipnsHub.settings.routingUrl}, DHT ${ipnsHub.settings.multiaddrs.join(', ')}`)

    const settings: DevnetSettings = {
      version: 1,
      dir,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      control: { url: '' },
      local: { blocks: join(dir, 'local', 'blocks'), names: join(dir, 'local', 'names') },
      ipfs: { helia: { peerId: '', multiaddrs: [] }, kubo: { url: kubo.url } },
      ethereum: { rpcUrl: chain.node.url, chainId: chain.ens.chainId, pid: chain.node.pid, ens: chain.ens, accounts: chain.accounts },
      hypercore: { bootstrap: hyper.testnet.bootstrap, seeder: { storage: join(dir, 'hypercore-seeder') } },
      service: { url: service.url },
      ipns: ipnsHub.settings,
      ...(dns !== undefined ? { dns: { server: dns.server, zone: dns.zone, tsig: dns.tsig, pid: dns.pid } } : {})
    }

    log('starting the always-on Helia node…')
    const pinner: IpfsPinner = started(await startIpfsPinner({
      dir: join(dir, 'helia'),
      resolvers: devnetResolvers(settings),
      timeoutMs,
      onError: (address, e) => log(`helia: cannot refresh ${address}: ${e instanceof Error ? e.message : String(e)}`)
    }), async p => { await p.close() })
    settings.ipfs.helia = { peerId: pinner.peerId, multiaddrs: pinner.multiaddrs() }
    log(`  helia ${settings.ipfs.helia.multiaddrs.join(', ')}`)

    const keep = async (request: KeepRequest, signal?: AbortSignal): Promise<KeepResult> => {
      const { scheme } = parseAddress(request.address)
      const result: KeepResult = { address: request.address }
      if (scheme === 'hypercore') {
        const status = await hyper.seeder.seed(request.address, { signal })
        result.seeded = { length: status.length, hasHead: status.hasHead, head: status.head }
      }
      if (request.pin === true) {
        const pinned = await pinner.keep(request.address, { signal })
        result.pinned = { length: pinned.length, head: pinned.head }
      }
      return result
    }
    const pin = async (cid: string, origins: string[], signal: AbortSignal): Promise<void> => { await pinner.pin(cid, origins, { signal }) }
    const control = started(await startControlServer({ status: () => settings, keep, pin }), async c => { await c.close() })
    settings.control.url = control.url
    await writeJson(file, settings)
    log(`settings written to ${file}`)

    let stopping: Promise<void> | undefined
    return {
      settings,
      settingsFile: file,
      keep: async (address, keepOptions = {}) => await keep({ address, pin: keepOptions.pin }, keepOptions.signal),
      async stop () {
        stopping ??= (async () => {
          log('stopping the devnet…')
          await stopAll()
          running.delete(dir)
          await writeJson(file, { ...settings, stoppedAt: new Date().toISOString() })
          log('devnet stopped')
        })()
        await stopping
      }
    }
  } catch (e) {
    await stopAll()
    running.delete(dir)
    throw e
  }
}

/** Awaits every start; if one fails, waits for the others (their stops are registered) and throws the first error. */
async function settleAll (work: Array<Promise<unknown>>): Promise<unknown[]> {
  const results = await Promise.allSettled(work)
  const failed = results.find(r => r.status === 'rejected')
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  return results.map(r => (r as PromiseFulfilledResult<unknown>).value)
}
