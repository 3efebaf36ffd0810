import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { fail } from './errors.js'
import { PackChecker, type PackSummary } from './pack-check.js'
import { openPack } from './pack-read.js'
import { verifyPack, type PackProgress } from './pack-verify.js'

/** Options of an import: abort it, and watch it progress. */
export interface ImportPackOptions {
  /** Puts in flight at once (default 16). */
  concurrency?: number
  /**
   * Verify the whole pack before writing anything (default true), so a corrupt pack stores no
   * block at all. Without it a corrupt pack may leave some unreachable blocks, never its head.
   */
  verifyFirst?: boolean
  signal?: AbortSignal
  onProgress?: (progress: PackProgress & { phase: 'verify' | 'import' }) => void
}

/** What an import checked and stored. */
export interface ImportSummary extends PackSummary {
  fileBytes: number
  /** Blocks put into the store (pages and payloads; the manifest is not stored). */
  stored: number
}

/**
 * Loads a pack into any CAS, verifying as it goes with the same checks as `verifyPack`. The head
 * page is put last, only once every other block is stored and the whole pack checked: a store
 * that has the head page has the complete log (or, for an incremental pack, its newer part), and
 * an import that fails leaves no head behind — nothing partial looks complete. The store's `put`
 * must return the same CID the pack names (INTEGRITY otherwise).
 * @example
 * const summary = await importPack('backup.car', await localCas({ path }))
 * console.log(`${summary.stored} blocks, head ${summary.head}`)
 */
export async function importPack (file: string, cas: ContentStore, options: ImportPackOptions = {}): Promise<ImportSummary> {
  const window = options.concurrency ?? 16
  if (!Number.isInteger(window) || window < 1) throw fail('INVALID_INPUT', 'concurrency must be a positive integer')
  const { signal } = options
  if (options.verifyFirst !== false) {
    await verifyPack(file, { signal, onProgress: p => options.onProgress?.({ ...p, phase: 'verify' }) })
  }

  const pack = await openPack(file, signal)
  const check = new PackChecker(pack.roots)
  const inFlight: Array<Promise<void>> = []
  const store = async (cid: CID, bytes: Uint8Array): Promise<void> => {
    const id = await cas.put(bytes, { signal })
    if (id.toString() !== cid.toString()) throw fail('INTEGRITY', `the ${cas.backend} store named block ${cid.toString()} ${id.toString()}`, { backend: cas.backend })
  }
  let head: Uint8Array | undefined
  let stored = 0
  try {
    for await (const { cid, bytes } of pack.blocks) {
      const kind = check.accept(cid, bytes)
      if (kind === 'head') head = bytes
      if (kind === 'page' || kind === 'payload') {
        const put = store(cid, bytes)
        put.catch(() => {}) // awaited below, in order
        inFlight.push(put)
        stored++
        if (inFlight.length >= window) await inFlight.shift()
      }
      options.onProgress?.({ ...check.progress, fileBytes: pack.size, phase: 'import' })
    }
    const summary = check.finish()
    while (inFlight.length > 0) await inFlight.shift()
    await store(check.head, head!)
    stored++
    return { ...summary, fileBytes: pack.size, stored }
  } catch (e) {
    await Promise.allSettled(inFlight)
    throw e
  }
}
