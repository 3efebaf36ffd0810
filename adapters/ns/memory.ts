import { KeyedLock } from '../../core/keyed-lock.js'
import { recordNs, type RecordNameSystem } from './record-ns.js'

/**
 * In-memory name system: the reference implementation. Signed records, owner-only publish,
 * sequence only grows — the same rules as the on-disk and served ones. `watch` is pushed: every
 * publish wakes the watches of its name at once; `pollMs` (default 20) is their re-check.
 * @example const ns = memoryNs()
 */
export function memoryNs (options: { pollMs?: number } = {}): RecordNameSystem {
  const records = new Map<string, Uint8Array>()
  const locks = new KeyedLock()
  return recordNs({
    backend: 'memory',
    scheme: 'memory',
    pollMs: options.pollMs ?? 20,
    storage: {
      async read (name) { return records.get(name) },
      async write (name, record) { records.set(name, record) },
      async exclusive (name, section) {
        return await locks.run(name, section)
      }
    }
  })
}
