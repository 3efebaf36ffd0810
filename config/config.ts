import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { readJson, writeJson } from '../core/atomic-json.js'
import { fail, isRemoteLogError } from '../core/errors.js'
import { logOptions, type LogOptions } from '../core/log-options.js'
import type { Durability } from '../core/durable-file.js'
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
  /**
   * `fsync` (the default): an acknowledged append survives a power cut; `process`: it survives a
   * killed process only (faster appends).
   */
  durability?: Durability
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

/** The config file of a state dir: `explicit` when given, else `<stateDir>/config.json`. */
export function configPath (stateDir: string, explicit?: string): string {
  return explicit !== undefined ? resolve(explicit) : join(stateDir, 'config.json')
}

/**
 * Options each driver cannot do without, by role (the registry in adapters/registry.ts opens them).
 * A config naming another driver is refused here, with the file and the field.
 */
const required: Record<'cas' | 'ns', Record<string, Record<string, 'string' | 'array'>>> = {
  cas: {
    local: { path: 'string' },
    memory: {},
    helia: {},
    kubo: { url: 'string' },
    twirp: { url: 'string' }
  },
  ns: {
    local: { path: 'string' },
    memory: {},
    ens: { rpcUrl: 'string', registry: 'string', resolver: 'string', registrar: 'string' },
    hypercore: { bootstrap: 'array' },
    twirp: { url: 'string' },
    // A reader needs nothing (the system's resolver); a writer needs server, zone and tsig (checked when it publishes).
    dns: {},
    // One of routers (delegated routing URLs), peers (DHT multiaddrs) or kubo (an RPC API URL): the adapter says which is missing.
    ipns: {}
  }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe (value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}

function checkBackend (path: string, field: string, role: 'cas' | 'ns', value: unknown): void {
  const bad = (what: string): never => { throw fail('INVALID_CONFIG', `${path}: ${what}`) }
  if (value === undefined) bad(`${field} is missing: it names the ${role === 'cas' ? 'content store' : 'name system'}, e.g. { "driver": "local", "path": "…" }`)
  if (!isObject(value)) return bad(`${field} must be an object with a "driver", not ${describe(value)}`)
  const drivers = required[role]
  if (typeof value.driver !== 'string') return bad(`${field}.driver must be a string (one of ${Object.keys(drivers).join(', ')})`)
  const needs = drivers[value.driver]
  if (needs === undefined) return bad(`${field}.driver "${value.driver}" is not a known ${role === 'cas' ? 'CAS' : 'NS'} driver (known: ${Object.keys(drivers).join(', ')})`)
  for (const [option, kind] of Object.entries(needs)) {
    const v = value[option]
    const ok = kind === 'array' ? Array.isArray(v) && v.length > 0 : typeof v === 'string' && v !== ''
    if (!ok) bad(`${field}.${option} ${v === undefined ? 'is missing' : 'is not valid'}: driver "${value.driver}" needs ${kind === 'array' ? 'a non-empty array' : 'a string'}`)
  }
}

/**
 * Checks the shape of a parsed config file: INVALID_CONFIG naming the file and the field otherwise
 * (`null`, an array, a backend with no driver, an unknown driver, a driver without its options…).
 */
export function checkConfig (value: unknown, path: string): Config {
  if (!isObject(value)) throw fail('INVALID_CONFIG', `${path}: the config must be a JSON object, not ${describe(value)}`)
  checkBackend(path, 'cas', 'cas', value.cas)
  checkBackend(path, 'ns', 'ns', value.ns)
  if (value.name !== undefined && typeof value.name !== 'string') throw fail('INVALID_CONFIG', `${path}: name must be a string`)
  if (value.resolvers !== undefined) {
    if (!isObject(value.resolvers)) throw fail('INVALID_CONFIG', `${path}: resolvers must be an object of name systems by address scheme, not ${describe(value.resolvers)}`)
    for (const [scheme, resolver] of Object.entries(value.resolvers)) checkBackend(path, `resolvers.${scheme}`, 'ns', resolver)
  }
  if (value.durability !== undefined && value.durability !== 'fsync' && value.durability !== 'process') {
    throw fail('INVALID_CONFIG', `${path}: durability must be "fsync" or "process", not ${describe(value.durability)}`)
  }
  if (value.log !== undefined) {
    if (!isObject(value.log)) throw fail('INVALID_CONFIG', `${path}: log must be an object, not ${describe(value.log)}`)
    try {
      logOptions(value.log as Partial<LogOptions>)
    } catch (e) {
      throw fail('INVALID_CONFIG', `${path}: log: ${(e as Error).message.replace(/^\[remotelog\] INVALID_CONFIG: /, '')}`)
    }
  }
  return value as unknown as Config
}

/** Reads and checks a config file; INVALID_CONFIG when it is missing, unreadable, not JSON or not a config. */
async function readConfigFile (path: string): Promise<Config> {
  let value: unknown
  try {
    value = await readJson<unknown>(path)
  } catch (e) {
    if (isRemoteLogError(e, 'MALFORMED')) throw fail('INVALID_CONFIG', `${path} is not valid JSON`)
    const code = (e as NodeJS.ErrnoException).code
    throw fail('INVALID_CONFIG', `cannot read the config ${path}: ${code === 'EISDIR' ? 'it is a folder' : code ?? (e as Error).message}`)
  }
  if (value === undefined) throw fail('INVALID_CONFIG', `no config at ${path} (run: remotelog init)`)
  return checkConfig(value, path)
}

/** Loads a config; relative `path`/`repo`/`storage` options are taken from the config file's folder. */
export async function loadConfig (path: string): Promise<Config> {
  const config = await readConfigFile(path)
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

/**
 * Writes a config. It may hold secrets (a service's write token), so a folder it creates is made
 * with mode 0700 and the file is created with mode 0600 (both at creation, not changed after).
 */
export async function saveConfig (path: string, config: Config): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await writeJson(path, config, { mode: 0o600 })
}
