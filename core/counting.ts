import type { ContentStore } from './content-store.js'
import type { NameSystem } from './name-system.js'

/** Request counts of one sync or publish, as SPEC's receiving flow talks about them. */
export interface RequestCounts {
  nsResolves: number
  nsPublishes: number
  casGets: number
  casPuts: number
  bytesIn: number
  bytesOut: number
}

export function emptyCounts (): RequestCounts {
  return { nsResolves: 0, nsPublishes: 0, casGets: 0, casPuts: 0, bytesIn: 0, bytesOut: 0 }
}

/** Wraps a CAS so every get/put is counted into `counts`. */
export function countingCas (cas: ContentStore, counts: RequestCounts): ContentStore {
  return Object.assign(Object.create(cas) as ContentStore, {
    async get (...args: Parameters<ContentStore['get']>) {
      counts.casGets++
      const bytes = await cas.get(...args)
      counts.bytesIn += bytes.byteLength
      return bytes
    },
    async put (...args: Parameters<ContentStore['put']>) {
      counts.casPuts++
      counts.bytesOut += args[0].byteLength
      return await cas.put(...args)
    }
  })
}

/** Wraps a name system so every resolve/publish is counted into `counts`. */
export function countingNs (ns: NameSystem, counts: RequestCounts): NameSystem {
  return Object.assign(Object.create(ns) as NameSystem, {
    async resolve (...args: Parameters<NameSystem['resolve']>) {
      counts.nsResolves++
      return await ns.resolve(...args)
    },
    async publish (...args: Parameters<NameSystem['publish']>) {
      counts.nsPublishes++
      return await ns.publish(...args)
    }
  })
}
