import { openCas, openNs } from '../adapters/registry.js'
import type { Config } from '../config/config.js'
import { countingCas, countingNs, emptyCounts, type RequestCounts } from '../core/counting.js'
import type { ContentStore } from '../core/content-store.js'
import { Endpoint } from '../core/endpoint.js'

/** An endpoint whose every CAS and NS request is counted. */
export interface Actor {
  endpoint: Endpoint
  counts: RequestCounts
  close: () => Promise<void>
}

/**
 * Opens an endpoint on the backends `config` names (the same config a user writes), wrapping its
 * CAS and NS so that requests and bytes are counted into `counts`.
 * @example
 * const writer = await openActor(dir, config)
 * await writer.endpoint.append(['m']); await writer.endpoint.publish()
 * writer.counts.casPuts // 2 (payload + page)
 * const reader = await openActor(dir2, config2, { wrapCas: cas => lyingStore(cas) })
 */
export async function openActor (dir: string, config: Config, options: { wrapCas?: (cas: ContentStore) => ContentStore } = {}): Promise<Actor> {
  const counts = emptyCounts()
  const context = { stateDir: dir }
  const opened = await openCas(config.cas, context)
  // A wrapper (e.g. a lying store) sits below the counting, where the backend would be.
  const cas = options.wrapCas?.(opened) ?? opened
  let endpoint: Endpoint
  try {
    const ns = await openNs(config.ns, context)
    endpoint = await Endpoint.open({ dir, cas: countingCas(cas, counts), ns: countingNs(ns, counts), log: config.log, name: config.name })
  } catch (e) {
    await cas.close()
    throw e
  }
  let closing: Promise<void> | undefined
  return {
    endpoint,
    counts,
    close: async () => { closing ??= endpoint.close(); await closing }
  }
}
