import type { CID } from 'multiformats/cid'
import type { ContentStore } from '../../core/content-store.js'
import { fail } from '../../core/errors.js'
import { serviceEndpoint } from '../service-endpoint.js'

export interface PinServiceOptions {
  /** Base URL of the pin service (a devnet's control API): `POST <url>/pins`. */
  url: string
  /** Bound on one remote pin (the service fetches the block from this node). Default 10 000 ms. */
  timeoutMs?: number
}

/** A store that can tell others where to fetch its blocks (a networked Helia node). */
interface Reachable extends ContentStore {
  multiaddrs?: () => string[]
}

/**
 * Wraps a networked IPFS store so that every `put` returns only once an always-on node (the
 * devnet's Helia node) has fetched and pinned the block from this one. Pages and payloads are put
 * before the name moves, so everything a name points at is already pinned there: readers get it
 * even when this node goes offline right after publishing (a CLI command's node does).
 * `POST <url>/pins` takes `{ cid, origins }` (as the IPFS Pinning Service API does) and answers
 * once the block is pinned.
 * @example
 * const cas = withPinService(await heliaCas({ offline: false, peers: [hub] }, { stateDir }), { url: 'http://127.0.0.1:4567' })
 */
export function withPinService<T extends Reachable> (store: T, options: PinServiceOptions): T {
  const { base, endpoint } = serviceEndpoint(options.url, 'pins', 'pinService', store.backend)
  const timeoutMs = options.timeoutMs ?? 10_000

  async function pin (id: CID, signal?: AbortSignal): Promise<void> {
    const bound = AbortSignal.timeout(timeoutMs)
    let response: Response
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cid: id.toString(), origins: store.multiaddrs?.() ?? [] }),
        signal: signal === undefined ? bound : AbortSignal.any([signal, bound])
      })
    } catch (cause) {
      if (signal?.aborted === true) throw fail('ABORTED', `pinning ${id.toString()}`, { backend: store.backend, cause })
      throw fail('UNAVAILABLE', `the pin service at ${base.href} did not pin ${id.toString()} (is the devnet running?)`, { backend: store.backend, cause })
    }
    if (!response.ok) {
      const answer = await response.json().catch(() => undefined) as { error?: { message?: string } } | undefined
      throw fail('UNAVAILABLE', `the pin service at ${base.href} refused ${id.toString()}: ${answer?.error?.message ?? response.statusText}`, { backend: store.backend })
    }
  }

  return Object.assign(Object.create(store) as T, {
    async put (...args: Parameters<ContentStore['put']>) {
      const id = await store.put(...args)
      await pin(id, args[1]?.signal)
      return id
    }
  })
}
