import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { readJson, writeJson } from '../core/atomic-json.js'
import { fail } from '../core/errors.js'
import type { LogOptions } from '../core/log-options.js'
import type { BackendConfig } from '../adapters/registry.js'

/**
 * An endpoint's configuration (`<stateDir>/config.json`): which CAS and NS it uses, which NS
 * resolves other schemes' addresses, and how its logs are paged. Switching backend is editing this.
 */
export interface Config {
  /** Label of the default log where names are claimed (ENS: `<name>.eth`). */
  name?: string
  cas: BackendConfig
  ns: BackendConfig
  /** Name systems for following addresses of other schemes, by scheme (`ens`, `hypercore`, …). */
  resolvers?: Record<string, BackendConfig>
  log?: Partial<LogOptions>
}

/**
 * The embedded default store, shared by every state dir of the user so two endpoints on one machine
 * sync with no server: `$REMOTELOG_STORE`, else `$XDG_DATA_HOME/remotelog/store`, else
 * `~/.local/share/remotelog/store`.
 */
export function defaultStoreDir (): string {
  if (process.env.REMOTELOG_STORE !== undefined && process.env.REMOTELOG_STORE !== '') return resolve(process.env.REMOTELOG_STORE)
  const data = process.env.XDG_DATA_HOME !== undefined && process.env.XDG_DATA_HOME !== '' ? process.env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return join(data, 'remotelog', 'store')
}

/** The state dir: `--dir`, else `$REMOTELOG_DIR`, else `~/.remotelog`. */
export function defaultStateDir (): string {
  return resolve(process.env.REMOTELOG_DIR ?? join(homedir(), '.remotelog'))
}

/** The embedded default: the local on-disk CAS and NS in the shared store. */
export function defaultConfig (store = defaultStoreDir()): Config {
  return {
    cas: { driver: 'local', path: join(store, 'blocks') },
    ns: { driver: 'local', path: join(store, 'names') },
    log: { mode: 'inline', pageEntries: 256, pageBytes: 256 * 1024 }
  }
}

export function configPath (stateDir: string, explicit?: string): string {
  return explicit !== undefined ? resolve(explicit) : join(stateDir, 'config.json')
}

/** Loads a config; relative `path`/`repo`/`storage` options are taken from the config file's folder. */
export async function loadConfig (path: string): Promise<Config> {
  const config = await readJson<Config>(path)
  if (config === undefined) throw fail('INVALID_CONFIG', `no config at ${path} (run: remotelog init)`)
  if (typeof config.cas?.driver !== 'string' || typeof config.ns?.driver !== 'string') {
    throw fail('INVALID_CONFIG', `${path} must name a cas.driver and an ns.driver`)
  }
  const base = dirname(path)
  const absolute = (b: BackendConfig): BackendConfig => Object.fromEntries(Object.entries(b).map(([k, v]) =>
    ['path', 'repo', 'storage'].includes(k) && typeof v === 'string' && !isAbsolute(v) ? [k, resolve(base, v)] : [k, v])) as BackendConfig
  return {
    ...config,
    cas: absolute(config.cas),
    ns: absolute(config.ns),
    resolvers: config.resolvers === undefined ? undefined : Object.fromEntries(Object.entries(config.resolvers).map(([k, v]) => [k, absolute(v)]))
  }
}

export async function saveConfig (path: string, config: Config): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeJson(path, config)
}
