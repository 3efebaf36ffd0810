import { join } from 'node:path'
import { fail } from '../core/errors.js'
import type { BackendConfig } from '../adapters/registry.js'
import { defaultConfig, type Config } from './config.js'

export interface InitChoices {
  stateDir: string
  store: string
  cas?: string
  ns?: string
  name?: string
  /** A remote log service URL: both roles through it. */
  remote?: string
  /** Settings of a running devnet (what `remotelog devnet` wrote), for its backends. */
  devnet?: Record<string, unknown>
}

/** The config of one backend as `remotelog init` writes it. */
export function casPreset (driver: string, choices: InitChoices): BackendConfig {
  switch (driver) {
    case 'local': return defaultConfig(choices.store).cas
    case 'memory': return { driver: 'memory' }
    default: throw fail('INVALID_INPUT', `no init preset for CAS "${driver}"; write its settings in config.json`)
  }
}

export function nsPreset (driver: string, choices: InitChoices): BackendConfig {
  switch (driver) {
    case 'local': return defaultConfig(choices.store).ns
    case 'memory': return { driver: 'memory' }
    default: throw fail('INVALID_INPUT', `no init preset for NS "${driver}"; write its settings in config.json`)
  }
}

/** The config `remotelog init` writes for these choices. */
export function initConfig (choices: InitChoices): Config {
  const base = defaultConfig(choices.store)
  const config: Config = {
    ...base,
    cas: casPreset(choices.cas ?? 'local', choices),
    ns: nsPreset(choices.ns ?? 'local', choices),
    resolvers: { local: base.ns }
  }
  if (choices.name !== undefined) config.name = choices.name
  if (config.ns.driver === 'local') delete config.resolvers
  return config
}

export const stateFile = (stateDir: string, file: string): string => join(stateDir, file)
