import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { readJson } from '../core/atomic-json.js'
import { fail } from '../core/errors.js'
import type { EnsDeployment } from './ens-deploy.js'
import type { DnsServerSettings } from './dns-server.js'
import type { IpnsHubSettings } from './ipns-hub.js'

/** A funded account of the devnet chain, with its key (public by design: local chain only). */
export interface FundedAccount {
  address: string
  privateKey: string
}

/**
 * What a running devnet wrote to `<folder>/devnet.json`: every endpoint, port, contract address,
 * bootstrap list and funded key an endpoint needs to use it. `remotelog init --profile devnet`
 * turns it into a config; tests and `compare` read it.
 */
export interface DevnetSettings {
  version: 1
  /** The devnet's folder (repos, chain-independent state, this file). */
  dir: string
  /** The process running the devnet. */
  pid: number
  startedAt: string
  /** Set when the devnet stopped cleanly; its endpoints are gone then. */
  stoppedAt?: string
  /** The devnet's control API: `GET /status`, `POST /keep { address, pin }`. */
  control: { url: string }
  /** Folders of the on-disk CAS and NS that endpoints on this devnet share. */
  local: { blocks: string, names: string }
  ipfs: {
    /** The always-on Helia node: endpoints dial it; it pins the logs it is told to keep. */
    helia: { peerId: string, multiaddrs: string[] }
    /** The IPFS node behind the Kubo HTTP RPC API (js-ipfs, in the devnet's process). */
    kubo: { url: string }
  }
  ethereum: {
    rpcUrl: string
    chainId: number
    /** The `hardhat node` child process. */
    pid: number
    ens: EnsDeployment
    /** Accounts Hardhat funds at genesis. The first pays ENS owners' gas. */
    accounts: FundedAccount[]
  }
  hypercore: {
    /** DHT bootstrap nodes on 127.0.0.1. */
    bootstrap: Array<{ host: string, port: number }>
    /** The seeder keeps full replicas of the logs it is told to keep. */
    seeder: { storage: string }
  }
  /** The remote log service (`vac.cas.CAS` + `vac.ns.NS` over Twirp). */
  service: { url: string }
  /**
   * BIND 9 `named`, authoritative for `zone` with RFC 2136 updates allowed for the TSIG key (TXT
   * records only); absent when `named` is not installed (`node scripts/ensure-test-tools.mjs`).
   */
  dns?: DnsServerSettings
  /**
   * IPNS routing: a libp2p DHT server on loopback and its delegated routing HTTP API (records are
   * held and republished there while writers are offline). Absent in settings of older devnets.
   */
  ipns?: IpnsHubSettings
}

export const SETTINGS_FILE = 'devnet.json'

/**
 * The devnet folder: `$REMOTELOG_DEVNET`, else `$XDG_DATA_HOME/remotelog/devnet`, else `~/.local/share/remotelog/devnet`.
 * @example await startDevnet({ dir: defaultDevnetDir() })
 */
export function defaultDevnetDir (): string {
  if (process.env.REMOTELOG_DEVNET !== undefined && process.env.REMOTELOG_DEVNET !== '') return resolve(process.env.REMOTELOG_DEVNET)
  const data = process.env.XDG_DATA_HOME !== undefined && process.env.XDG_DATA_HOME !== '' ? process.env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return join(data, 'remotelog', 'devnet')
}

/**
 * The settings file of a devnet folder.
 * @example settingsPath('/tmp/dn') // '/tmp/dn/devnet.json'
 */
export function settingsPath (dir = defaultDevnetDir()): string {
  return join(resolve(dir), SETTINGS_FILE)
}

/**
 * Reads a devnet's settings from its file (or its folder). INVALID_CONFIG when there is none.
 * @example
 * const devnet = await readDevnetSettings()            // the default devnet
 * const other = await readDevnetSettings('/tmp/dn2')   // a folder or its devnet.json
 */
export async function readDevnetSettings (fileOrDir?: string): Promise<DevnetSettings> {
  const path = fileOrDir === undefined ? settingsPath() : fileOrDir.endsWith('.json') ? resolve(fileOrDir) : settingsPath(fileOrDir)
  const settings = await readJson<DevnetSettings>(path)
  if (settings === undefined) throw fail('INVALID_CONFIG', `no devnet settings at ${path} (start one with: remotelog devnet)`)
  if (settings.version !== 1 || typeof settings.control?.url !== 'string' || typeof settings.service?.url !== 'string') {
    throw fail('INVALID_CONFIG', `${path} is not a devnet settings file of this version`)
  }
  return settings
}

/**
 * True when the devnet that wrote the settings has not stopped and its process is still running.
 * @example if (!devnetAlive(await readDevnetSettings())) console.log('start it: remotelog devnet')
 */
export function devnetAlive (settings: Pick<DevnetSettings, 'pid' | 'stoppedAt'>): boolean {
  if (settings.stoppedAt !== undefined) return false
  try {
    process.kill(settings.pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
