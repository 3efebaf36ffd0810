import { setTimeout as sleep } from 'node:timers/promises'
import type { CID } from 'multiformats/cid'
import type { NameSystem, PublishOptions } from '../../core/name-system.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { serviceEndpoint } from '../service-endpoint.js'

export interface SeedServiceOptions {
  /** Base URL of the seed service (a devnet's control API): `POST <url>/keep`. */
  url: string
  /** Bound on the service replicating a publish. Default 15 000 ms. */
  timeoutMs?: number
}

interface Seeded { length: number, hasHead: boolean, head?: string }
interface KeepAnswer { seeded?: Seeded, error?: { message?: string } }

/**
 * Wraps a name system whose values live with their writer (Hypercore: the core is on the writer's
 * disk) so that each `publish` returns once an always-on seeder (the devnet's) holds the new head:
 * readers resolve it even when the writer goes offline right after publishing (a CLI command's
 * process does). If the name moved but the seeder did not get it, the publish fails with
 * UNAVAILABLE; the writer's next publish of the same head (its name already there: CONFLICT from
 * the name system) asks the seeder again before it lets that CONFLICT through.
 * @example const ns = withSeedService(await hypercoreNs({ bootstrap }, { stateDir }), { url: 'http://127.0.0.1:4567' })
 */
export function withSeedService<T extends NameSystem> (ns: T, options: SeedServiceOptions): T {
  const { base, endpoint } = serviceEndpoint(options.url, 'keep', 'seedService', ns.backend)
  const timeoutMs = options.timeoutMs ?? 15_000

  /** Asks the seeder until it holds `head` (or, without the seeder naming its head, `blocks` blocks). */
  async function seed (address: string, head: CID, blocks: number | undefined, publishOptions?: PublishOptions): Promise<number> {
    const signal = publishOptions?.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([publishOptions.signal, AbortSignal.timeout(timeoutMs)])
    const holds = (s: Seeded): boolean => s.hasHead && (s.head !== undefined ? s.head === head.toString() : blocks !== undefined && s.length >= blocks)
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
      if (seeded !== undefined && holds(seeded)) return seeded.length
      if (seeded !== undefined) why = seeded.head !== undefined ? `it holds head ${seeded.head}` : `it holds ${seeded.length} of ${blocks ?? '?'} head records`
      await sleep(Math.min(200, 10 * 2 ** attempt), undefined, { signal }).catch(() => {})
    }
    throw fail('UNAVAILABLE', `${address} moved, but the seed service did not replicate it within ${timeoutMs} ms: ${why}`, { backend: ns.backend })
  }

  return Object.assign(Object.create(ns) as T, {
    async publish (...args: Parameters<NameSystem['publish']>) {
      const [name, record, , publishOptions] = args
      const address = `${ns.scheme}:${name}`
      let receipt
      try {
        receipt = await ns.publish(...args)
      } catch (e) {
        // A retry of a publish whose name moved but whose seeding failed: the seeder still needs it.
        if (!isRemoteLogError(e, 'CONFLICT')) throw e
        const current = await ns.resolve(name, { signal: publishOptions?.signal }).catch(() => undefined)
        if (current?.head.equals(record.head) === true) await seed(address, record.head, undefined, publishOptions)
        throw e
      }
      const blocks = typeof receipt.blocks === 'number' ? receipt.blocks : 1
      return { ...receipt, seeded: await seed(address, record.head, blocks, publishOptions) }
    }
  })
}
