import { basename } from 'node:path'
import { fail } from '../core/errors.js'
import type { BackendConfig } from '../adapters/registry.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { remoteConfig } from '../service/remote-config.js'
import { defaultConfig, type Config } from './config.js'

/** What `remotelog init` was asked for: backends, profile, remote service, names. */
export interface InitChoices {
  stateDir: string
  store: string
  cas?: string
  ns?: string
  name?: string
  /** A remote log service URL: both roles through it. */
  remote?: string
  /** The service's write token (bearer), with `remote`. */
  token?: string
  /** Settings of a running devnet (what `remotelog devnet` wrote), for its backends. */
  devnet?: DevnetSettings
}

/** CAS drivers `init` has a preset for, and NS drivers likewise (`memory` for library use: the CLI refuses it). */
export const casPresets = ['local', 'memory', 'helia', 'kubo', 'twirp'] as const
/** The name systems `init --ns` knows. */
export const nsPresets = ['local', 'memory', 'ens', 'hypercore', 'twirp', 'dns', 'ipns'] as const

/** Kubo's own default RPC address, for `--cas kubo` without a devnet. */
const KUBO_DEFAULT_URL = 'http://127.0.0.1:5001'

function service (role: 'cas' | 'ns', choices: InitChoices): BackendConfig {
  const url = choices.remote ?? choices.devnet?.service.url
  if (url === undefined) throw fail('INVALID_INPUT', `${role === 'cas' ? 'CAS' : 'NS'} twirp needs a service: --remote URL, or --profile devnet`)
  return remoteConfig(url, { token: choices.token })[role]
}

function needDevnet (what: string, choices: InitChoices): DevnetSettings {
  if (choices.devnet === undefined) throw fail('INVALID_INPUT', `${what} needs a chain/DHT to talk to: use --profile devnet (start one with: remotelog devnet), or write its settings in config.json`)
  return choices.devnet
}

/**
 * The config of one CAS backend as `remotelog init` writes it. With a devnet, every backend points
 * at the devnet's node of that kind; `helia` runs an embedded networked node that dials the
 * devnet's always-on node, which pins every block it puts before the put returns.
 * @example casPreset('kubo', { stateDir, store, devnet }) // { driver: 'kubo', url: 'http://127.0.0.1:…/api/v0' }
 */
export function casPreset (driver: string, choices: InitChoices): BackendConfig {
  const devnet = choices.devnet
  switch (driver) {
    case 'local': return devnet !== undefined ? { driver: 'local', path: devnet.local.blocks } : defaultConfig(choices.store).cas
    case 'memory': return { driver: 'memory' }
    case 'helia': return devnet !== undefined
      ? { driver: 'helia', offline: false, listen: ['/ip4/127.0.0.1/tcp/0'], peers: devnet.ipfs.helia.multiaddrs, pinService: devnet.control.url, timeoutMs: 10_000 }
      : { driver: 'helia' }
    case 'kubo': return { driver: 'kubo', url: devnet?.ipfs.kubo.url ?? KUBO_DEFAULT_URL, timeoutMs: 10_000 }
    case 'twirp': return service('cas', choices)
    default: throw fail('INVALID_INPUT', `no init preset for CAS "${driver}" (presets: ${casPresets.filter(d => d !== 'memory').join(', ')}); write its settings in config.json`)
  }
}

/**
 * The config of one NS backend as `remotelog init` writes it (ENS and Hypercore need a devnet).
 * @example nsPreset('ens', { stateDir, store, devnet }) // { driver: 'ens', rpcUrl, registry, resolver, registrar }
 */
export function nsPreset (driver: string, choices: InitChoices): BackendConfig {
  switch (driver) {
    case 'local': return choices.devnet !== undefined ? { driver: 'local', path: choices.devnet.local.names } : defaultConfig(choices.store).ns
    case 'memory': return { driver: 'memory' }
    case 'ens': {
      const { ethereum } = needDevnet('--ns ens', choices)
      const { registry, resolver, registrar } = ethereum.ens
      return { driver: 'ens', rpcUrl: ethereum.rpcUrl, registry, resolver, registrar }
    }
    case 'hypercore': {
      const devnet = needDevnet('--ns hypercore', choices)
      // The devnet's seeder replicates each publish before it returns, so the log outlives the writer's process.
      return { driver: 'hypercore', bootstrap: devnet.hypercore.bootstrap, seedService: devnet.control.url, timeoutMs: 10_000 }
    }
    case 'twirp': return service('ns', choices)
    case 'dns': {
      // The devnet's named: updates signed with its TSIG key; a log's domain is <label>.<zone>.
      const dns = needDevnet('--ns dns', choices).dns
      if (dns === undefined) throw fail('INVALID_INPUT', '--ns dns: this devnet runs no DNS server (BIND 9 `named` was not installed when it started); or write { "driver": "dns", "server", "zone", "tsig" } in config.json')
      return { driver: 'dns', server: dns.server, zone: dns.zone, tsig: dns.tsig, pollMs: 100 }
    }
    case 'ipns': {
      // Records go to the devnet's IPNS hub over delegated routing HTTP; it holds and republishes them.
      const ipns = needDevnet('--ns ipns', choices).ipns
      if (ipns === undefined) throw fail('INVALID_INPUT', '--ns ipns: this devnet runs no IPNS routing (it predates it: restart `remotelog devnet`); or write { "driver": "ipns", "routers": [URL] } in config.json')
      return { driver: 'ipns', routers: [ipns.routingUrl], timeoutMs: 10_000, pollMs: 200 }
    }
    default: throw fail('INVALID_INPUT', `no init preset for NS "${driver}" (presets: ${nsPresets.filter(d => d !== 'memory').join(', ')}); write its settings in config.json`)
  }
}

/**
 * Name systems for following logs of every scheme a devnet serves, keyed by address scheme.
 * @example devnetResolvers(settings).ens // { driver: 'ens', rpcUrl, … }
 */
export function devnetResolvers (devnet: DevnetSettings): Record<string, BackendConfig> {
  const choices: InitChoices = { stateDir: '', store: '', devnet }
  return Object.fromEntries(['local', 'twirp', 'ens', 'hypercore', ...(devnet.dns !== undefined ? ['dns'] : []), ...(devnet.ipns !== undefined ? ['ipns'] : [])].map(driver => [driver, nsPreset(driver, choices)]))
}

/** An ENS label from the state dir's folder name (`/home/me/alice` → `alice`), for `--ns ens` without `--name`. */
function labelOf (stateDir: string): string {
  const label = basename(stateDir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
  if (label === '') throw fail('INVALID_INPUT', `--ns ens claims <name>.eth: give --name (the state dir's name "${basename(stateDir)}" is not a usable label)`)
  return label
}

/**
 * The config `remotelog init` writes for these choices. Switching backend is choosing other
 * drivers here (or editing the file), never changing code.
 * @example
 * initConfig({ stateDir, store, devnet: await readDevnetSettings(), cas: 'helia', ns: 'ens', name: 'alice' })
 */
export function initConfig (choices: InitChoices): Config {
  const base = defaultConfig(choices.store)
  const config: Config = {
    ...base,
    cas: casPreset(choices.cas ?? (choices.remote !== undefined ? 'twirp' : 'local'), choices),
    ns: nsPreset(choices.ns ?? (choices.remote !== undefined ? 'twirp' : 'local'), choices),
    resolvers: choices.devnet !== undefined ? devnetResolvers(choices.devnet) : { local: base.ns }
  }
  if (choices.remote !== undefined) config.resolvers!.twirp = remoteConfig(choices.remote).ns
  // Everything but the own NS's scheme; nothing left means no resolvers entry at all.
  delete config.resolvers![config.ns.driver]
  if (Object.keys(config.resolvers!).length === 0) delete config.resolvers
  // ENS claims <label>.eth and DNS publishes at <label>.<zone>: name the log after the state dir, not `default`.
  const name = choices.name ?? (config.ns.driver === 'ens' || config.ns.driver === 'dns' ? labelOf(choices.stateDir) : undefined)
  if (name !== undefined) config.name = name
  return config
}

