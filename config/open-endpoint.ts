import { Endpoint } from '../core/endpoint.js'
import type { NameSystem } from '../core/name-system.js'
import { fail } from '../core/errors.js'
import { openCas, openNs } from '../adapters/registry.js'
import { configPath, loadConfig, type Config } from './config.js'

/** Where the endpoint lives and which config it uses. */
export interface OpenEndpointOptions {
  /** The endpoint's state dir. */
  dir: string
  /** A config to use instead of `<dir>/config.json`. */
  config?: Config
  /** A config file to use instead of `<dir>/config.json`. */
  configFile?: string
}

/**
 * Opens an endpoint with the backends its config names (loaded lazily through the registry).
 * @example
 * const alice = await openEndpoint({ dir: '/tmp/alice' })
 * await alice.append(['hello']); await alice.publish()
 */
export async function openEndpoint (options: OpenEndpointOptions): Promise<Endpoint> {
  const config = options.config ?? await loadConfig(configPath(options.dir, options.configFile))
  const context = { stateDir: options.dir, durability: config.durability }
  const cas = await openCas(config.cas, context)
  let ns: NameSystem
  try {
    ns = await openNs(config.ns, context)
  } catch (e) {
    await cas.close()
    throw e
  }
  const others = new Map<string, Promise<NameSystem>>()
  return await Endpoint.open({
    dir: options.dir,
    cas,
    ns,
    name: config.name,
    log: config.log,
    durability: config.durability,
    async nsFor (scheme) {
      const resolver = config.resolvers?.[scheme]
      if (resolver === undefined) throw fail('INVALID_CONFIG', `no name system configured for "${scheme}:" addresses (add resolvers.${scheme} to the config)`)
      let opened = others.get(scheme)
      if (opened === undefined) {
        opened = openNs(resolver, context)
        others.set(scheme, opened)
      }
      return await opened
    },
    async onClose () {
      await Promise.allSettled([...others.values()].map(async n => { await (await n).close() }))
    }
  })
}
