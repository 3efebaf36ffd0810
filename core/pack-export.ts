import { randomBytes } from 'node:crypto'
import { rename, rm } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { fail, isRemoteLogError } from './errors.js'
import { cidOf } from './ids.js'
import { PackChecker, packReach, type PackSummary } from './pack-check.js'
import { encodeManifest } from './pack-manifest.js'
import type { PackProgress } from './pack-verify.js'
import { openPackFile, type PackFileWriter } from './pack-write.js'
import type { Entry } from './page.js'
import { walkChain, type ChainPage } from './page-chain.js'

/** What to export: the store, the head, and where an incremental pack starts. */
export interface ExportPackOptions {
  /** The store holding the log's pages and payloads. */
  cas: ContentStore
  /** The log's head page (what its name resolves to). */
  head: CID
  /** The log's address, recorded in the manifest (a restore checks it against the owner key). */
  address?: string
  /**
   * Incremental pack: payloads from this sequence on, and the pages down to the one holding
   * `since - 1` (rewritten since a backup taken at length `since`). Default 0: everything.
   */
  since?: number
  /** Payload gets in flight at once (default 16). */
  concurrency?: number
  signal?: AbortSignal
  /** Called after each block written; `total` is the number of entries the pack will hold. */
  onProgress?: (progress: PackProgress & { total: number }) => void
}

/** What an export wrote: the pack's summary (as `verifyPack` would report it) and the file. */
export interface ExportSummary extends PackSummary {
  file: string
  fileBytes: number
}

/** Gets the payloads `entries` point at (each CID once), `window` at a time, yielding in order. */
async function * payloads (cas: ContentStore, entries: Entry[], window: number, signal?: AbortSignal): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
  const seen = new Set<string>()
  const wanted = entries.filter(e => {
    if (e.remoteHash === undefined || e.tombstone === true || seen.has(e.remoteHash.toString())) return false
    seen.add(e.remoteHash.toString())
    return true
  })
  const get = async (e: Entry): Promise<{ cid: CID, bytes: Uint8Array }> => {
    const cid = e.remoteHash!
    try {
      return { cid, bytes: await cas.get(cid, { signal }) }
    } catch (cause) {
      if (isRemoteLogError(cause, 'NOT_FOUND')) throw fail('NOT_FOUND', `payload ${cid.toString()} of entry ${e.seq} is not in the ${cas.backend} store: cannot export the log`, { cause })
      throw cause
    }
  }
  const inFlight: Array<Promise<{ cid: CID, bytes: Uint8Array }>> = []
  let next = 0
  const start = (): void => {
    const p = get(wanted[next++])
    p.catch(() => {}) // awaited in order below
    inFlight.push(p)
  }
  while (next < wanted.length && inFlight.length < window) start()
  while (inFlight.length > 0) {
    const block = await inFlight.shift()!
    if (next < wanted.length) start()
    yield block
  }
}

/**
 * Writes a log as a CARv1 pack file (SPEC §7) rooted at its head page, streaming: the manifest,
 * then each page from the head back, each followed by the payloads its entries point at (a
 * payload two pages share is written after each of them: valid CAR, and no log-long set). Memory
 * holds two pages (the walk reads one ahead), a window of payloads and two 1 MiB write chunks,
 * whatever the log's length; the file is written a chunk at a time. The file appears under its
 * name only when complete (written to a temporary name, then renamed). Every block written also
 * passes the same checks as `verifyPack`, so an export never produces a pack verify rejects.
 * `ipfs dag import` accepts the file; it pins the roots (the head page and the manifest).
 * @example
 * const { head } = await ns.resolve(name)
 * const summary = await exportPack('backup.car', { cas, head, address: 'local:b…' })
 * const weekly = await exportPack('since-500.car', { cas, head, since: 500 })
 */
export async function exportPack (out: string, options: ExportPackOptions): Promise<ExportSummary> {
  const { cas, signal } = options
  const since = options.since ?? 0
  const window = options.concurrency ?? 16
  if (!Number.isSafeInteger(since) || since < 0) throw fail('INVALID_INPUT', `since must be a non-negative integer, not ${since}`)
  if (!Number.isInteger(window) || window < 1) throw fail('INVALID_INPUT', 'concurrency must be a positive integer')

  const chain = walkChain(cas, options.head, { from: packReach(since), signal })
  const first = await chain.next()
  const headPage = first.value!.page
  if (since > headPage.length!) throw fail('INVALID_INPUT', `since ${since} is past the log's length ${headPage.length}`)
  const manifest = encodeManifest({ type: 'remotelog-pack', version: 1, head: options.head.toString(), length: headPage.length!, revision: headPage.revision!, since, address: options.address })
  const manifestId = cidOf(manifest)
  const roots = [options.head, manifestId]
  const check = new PackChecker(roots)
  const total = headPage.length! - since

  const temp = `${out}.${randomBytes(4).toString('hex')}.partial`
  let car: PackFileWriter
  try {
    car = await openPackFile(temp, roots)
  } catch (cause) {
    await chain.return(undefined).catch(() => {})
    throw fail('UNAVAILABLE', `cannot write pack ${out}`, { cause })
  }
  const progress = (): void => { options.onProgress?.({ ...check.progress, total }) }

  try {
    check.accept(manifestId, manifest)
    await car.put(manifestId, manifest)
    progress()
    let page: ChainPage = first.value!
    for (;;) {
      // walkChain has checked the page's bytes against its id and decoded it: the checker takes
      // both as they are (no second hash or decode); it still checks the page's place in the pack.
      check.acceptPage(page.id, page.bytes, page.page)
      await car.put(page.id, page.bytes)
      progress()
      const entries = page.page.entries.filter(e => e.seq >= since)
      // Payloads come from the store: hashed here again, whatever the store checked.
      for await (const block of payloads(cas, entries, window, signal)) {
        check.accept(block.cid, block.bytes)
        await car.put(block.cid, block.bytes)
        progress()
      }
      // The walk reads the older page ahead, while this one was written.
      const next = await chain.next()
      if (next.done === true) break
      page = next.value
    }
    const summary = check.finish()
    const fileBytes = await car.close()
    await rename(temp, out)
    return { ...summary, file: out, fileBytes }
  } catch (e) {
    await car.destroy()
    await chain.return(undefined).catch(() => {})
    await rm(temp, { force: true })
    if (isRemoteLogError(e)) throw e
    throw fail('UNAVAILABLE', `cannot write pack ${out}`, { cause: e })
  }
}
