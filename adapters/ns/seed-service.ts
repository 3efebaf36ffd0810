import { setTimeout as sleep } from 'node:timers/promises'
import type { NameSystem } from '../../core/name-system.js'
import { fail } from '../../core/errors.js'
import { serviceEndpoint } from '../service-endpoint.js'

export interface SeedServiceOptions {
  /** Base URL of the seed service (a devnet's control API): `POST <url>/keep`. */
  url: string
  /** Bound on the service replicating a publish. Default 15 000 ms. */
  timeoutMs?: number
}

interface KeepAnswer { seeded?: { length: number, hasHead: boolean }, error?: { message?: string } }

/**
 * Wraps a name system whose values live with their writer (Hypercore: the core is on the writer's
 * disk) so that each `publish` returns once an always-on seeder (the devnet's) holds the new head:
 * readers resolve it even when the writer goes offline right after publishing (a CLI command's
 * process does). If the name moved but the seeder did not get it, the publish fails with
 * UNAVAILABLE; the writer's next publish finishes it.
 * @example const ns = withSeedService(await hypercoreNs({ bootstrap }, { stateDir }), { url: 'http://127.0.0.1:4567' })
 */
export function withSeedService<T extends NameSystem> (ns: T, options: SeedServiceOptions): T {
  const { base, endpoint } = serviceEndpoint(options.url, 'keep', 'seedService', ns.backend)
  const timeoutMs = options.timeoutMs ?? 15_000

  return Object.assign(Object.create(ns) as T, {
    async publish (...args: Parameters<NameSystem['publish']>) {
      const receipt = await ns.publish(...args)
      const [name, , , publishOptions] = args
      const address = `${ns.scheme}:${name}`
      const blocks = typeof receipt.blocks === 'number' ? receipt.blocks : 1
      const signal = publishOptions?.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([publishOptions.signal, AbortSignal.timeout(timeoutMs)])
      // The seeder may answer before the append reached it: ask again until it holds this head.
      let why = 'no answer'
      for (let attempt = 0; !signal.aborted; attempt++) {
        let answer: KeepAnswer | undefined
        try {
          const response = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address }), signal })
          answer = await response.json().catch(() => undefined) as KeepAnswer | undefined
          if (!response.ok) why = answer?.error?.message ?? `HTTP ${response.status}`
        } catch (cause) {
          if (publishOptions?.signal?.aborted === true) throw fail('ABORTED', `waiting for the seeder to replicate ${address}`, { backend: ns.backend, cause })
          if (!signal.aborted) throw fail('UNAVAILABLE', `${address} moved, but the seed service at ${base.href} did not answer (is the devnet running?)`, { backend: ns.backend, cause })
          break
        }
        const seeded = answer?.seeded
        if (seeded !== undefined && seeded.hasHead && seeded.length >= blocks) return { ...receipt, seeded: seeded.length }
        if (seeded !== undefined) why = `it holds ${seeded.length} of ${blocks} head records`
        await sleep(Math.min(200, 10 * 2 ** attempt), undefined, { signal }).catch(() => {})
      }
      throw fail('UNAVAILABLE', `${address} moved, but the seed service did not replicate it within ${timeoutMs} ms: ${why}`, { backend: ns.backend })
    }
  })
}
