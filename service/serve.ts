import { readdir } from 'node:fs/promises'
import { fail } from '../core/errors.js'
import type { NameSystem } from '../core/name-system.js'
import { openCas, openNs, type BackendConfig } from '../adapters/registry.js'
import type { RecordNameSystem } from '../adapters/ns/record-ns.js'
import { startService, type RunningService, type ServiceOptions } from './server.js'

export interface ServeOptions extends Omit<ServiceOptions, 'cas' | 'ns'> {
  /** CAS behind the service, as in a config (`{ driver: 'local', path }` is the default setup). */
  cas: BackendConfig
  /** NS behind the service: one of signed records (`local` or `memory`). */
  ns: BackendConfig
  /** State dir handed to the backends. */
  stateDir: string
}

/**
 * `remotelog serve`: opens the configured backends and serves them; `close()` stops the service
 * gracefully, then closes the backends.
 * @example
 * const running = await serve({ port: 7878, stateDir, cas: { driver: 'local', path: blocks }, ns: { driver: 'local', path: names } })
 * process.once('SIGTERM', () => { void running.close() })
 */
export async function serve (options: ServeOptions): Promise<RunningService> {
  const { cas: casConfig, ns: nsConfig, stateDir, ...serviceOptions } = options
  const cas = await openCas(casConfig, { stateDir })
  let ns: NameSystem | undefined
  try {
    ns = await openNs(nsConfig, { stateDir })
    if (!isRecordNs(ns)) throw fail('INVALID_CONFIG', `the service verifies signed records itself and needs an NS of signed records (local, memory), not "${nsConfig.driver}"`)
    const service = await startService({ countStoredNames: storedNameCounter(nsConfig), ...serviceOptions, cas, ns })
    const backends = { cas, ns }
    return {
      url: service.url,
      get inFlight () { return service.inFlight },
      get connections () { return service.connections },
      get waiting () { return service.waiting },
      async close () {
        await service.close()
        await Promise.allSettled([backends.cas.close(), backends.ns.close()])
      }
    }
  } catch (e) {
    await Promise.allSettled([cas.close(), ns?.close()])
    throw e
  }
}

/** Counts the names a local NS folder holds (one `<name>.record` file each), for the service's name limit. */
function storedNameCounter (config: BackendConfig): (() => Promise<number>) | undefined {
  const path = (config as { path?: unknown }).path
  if (config.driver !== 'local' || typeof path !== 'string') return undefined
  return async () => {
    try {
      return (await readdir(path)).filter(f => f.endsWith('.record')).length
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw fail('UNAVAILABLE', `cannot count the names in ${path}`, { backend: 'local', cause: e })
    }
  }
}

function isRecordNs (ns: NameSystem): ns is RecordNameSystem {
  const candidate = ns as Partial<RecordNameSystem>
  return typeof candidate.acceptRecord === 'function' && typeof candidate.readRecord === 'function'
}
