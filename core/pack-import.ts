import { createHash } from 'node:crypto'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { fail } from './errors.js'
import { cidOf, toCid } from './ids.js'
import { PackChecker, packReach, type PackBlockKind, type PackSummary } from './pack-check.js'
import { openPack } from './pack-read.js'
import type { PackProgress } from './pack-verify.js'
import { decodePageHeader } from './page-header.js'

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
 * A running SHA-256 over a pack's roots and the CIDs of its blocks in order. Every block's bytes
 * hash to its CID, so two passes over a pack with the same sequence digest read the same blocks,
 * byte for byte. The CIDs are gathered into 64 KiB before each hash update.
 */
class BlockSequence {
  private readonly hash = createHash('sha256')
  private readonly buffer = Buffer.allocUnsafe(1 << 16)
  private used = 0

  constructor (roots: CID[]) {
    this.add(Uint8Array.of(roots.length))
    for (const root of roots) this.add(root.bytes)
  }

  /** Adds `bytes` (at most 64 KiB − 10), prefixed with their length. */
  add (bytes: Uint8Array): void {
    const prefix = varint.encodingLength(bytes.byteLength)
    if (this.used + prefix + bytes.byteLength > this.buffer.byteLength) this.drain()
    varint.encodeTo(bytes.byteLength, this.buffer, this.used)
    this.used += prefix
    this.buffer.set(bytes, this.used)
    this.used += bytes.byteLength
  }

  private drain (): void {
    this.hash.update(this.buffer.subarray(0, this.used))
    this.used = 0
  }

  digest (): string {
    this.drain()
    return this.hash.digest('hex')
  }
}

/** Pass one of a verified import: `verifyPack`'s checks, and the pack's roots and block sequence digest. */
async function verifyPass (file: string, options: ImportPackOptions): Promise<{ summary: PackSummary, roots: CID[], sequence: string }> {
  const pack = await openPack(file, options.signal)
  const check = new PackChecker(pack.roots)
  const sequence = new BlockSequence(pack.roots)
  for await (const { cid, bytes } of pack.blocks) {
    check.accept(cid, bytes)
    sequence.add(cid.bytes)
    options.onProgress?.({ ...check.progress, fileBytes: pack.size, phase: 'verify' })
  }
  return { summary: check.finish(), roots: pack.roots, sequence: sequence.digest() }
}

/**
 * Loads a pack into any CAS, verifying as it goes with the same checks as `verifyPack`. The head
 * page is put last, only once every other block is stored and the whole pack checked: a store
 * that has the head page has the complete log (or, for an incremental pack, its newer part), and
 * an import that fails leaves no head behind — nothing partial looks complete. The store's `put`
 * must return the same CID the pack names (INTEGRITY otherwise).
 *
 * With `verifyFirst` (the default) the pack is read twice. The first pass makes every check; the
 * second hashes every block again against its CID (the file may have changed in between) and
 * stores it, without decoding the pages again: it keeps a digest of the sequence of CIDs, and
 * puts the head only if that digest is the first pass's — then it stored, byte for byte, the
 * blocks the first pass checked. A file changed in between fails with INTEGRITY, its head unstored.
 * @example
 * const summary = await importPack('backup.car', await localCas({ path }))
 * console.log(`${summary.stored} blocks, head ${summary.head}`)
 */
export async function importPack (file: string, cas: ContentStore, options: ImportPackOptions = {}): Promise<ImportSummary> {
  const window = options.concurrency ?? 16
  if (!Number.isInteger(window) || window < 1) throw fail('INVALID_INPUT', 'concurrency must be a positive integer')
  const { signal } = options
  const verified = options.verifyFirst !== false ? await verifyPass(file, options) : undefined

  const pack = await openPack(file, signal)
  const changed = (): Error => fail('INTEGRITY', `${file} changed while it was imported: its blocks are not the ones verified (the head was not stored)`)
  if (verified !== undefined && pack.roots.map(String).join() !== verified.roots.map(String).join()) {
    pack.close()
    throw changed()
  }
  const check = verified === undefined ? new PackChecker(pack.roots) : undefined
  const sequence = new BlockSequence(pack.roots)
  // Second pass of a verified import: the first one checked the structure, so what each block is
  // follows from its place; each block is hashed against its CID again, and its CID added to the sequence.
  const since = verified?.summary.since ?? 0
  const head = check?.head ?? toCid(verified!.summary.head)
  const headKey = head.toString()
  const hasManifest = pack.roots.length === 2
  let nextPage: string | undefined = headKey
  const counts = { blocks: 0, bytes: 0, messages: 0 }
  const kindOf = (cid: CID, bytes: Uint8Array): PackBlockKind => {
    const n = counts.blocks
    if (!cid.equals(cidOf(bytes))) throw fail('INTEGRITY', `block #${n} does not hash to its CID ${cid.toString()}: the pack is corrupt (or changed since it was verified)`)
    sequence.add(cid.bytes)
    counts.blocks++
    counts.bytes += bytes.byteLength
    if (n === 0 && hasManifest) return 'manifest'
    const key = cid.toString()
    if (key !== nextPage) return 'payload'
    // Only for the progress count and the next page's id: the first pass checked the page.
    const header = decodePageHeader(bytes, `page ${key}`)
    counts.messages += Math.max(0, header.length! - Math.max(header.firstSeq!, since))
    nextPage = header.firstSeq! > packReach(since) ? header.tail?.toString() : undefined
    return key === headKey ? 'head' : 'page'
  }

  const inFlight: Array<Promise<void>> = []
  const store = async (cid: CID, bytes: Uint8Array): Promise<void> => {
    const id = await cas.put(bytes, { signal })
    if (id.toString() !== cid.toString()) throw fail('INTEGRITY', `the ${cas.backend} store named block ${cid.toString()} ${id.toString()}`, { backend: cas.backend })
  }
  let headBytes: Uint8Array | undefined
  let stored = 0
  try {
    for await (const { cid, bytes } of pack.blocks) {
      const kind = check !== undefined ? check.accept(cid, bytes) : kindOf(cid, bytes)
      if (kind === 'head') headBytes = bytes
      if (kind === 'page' || kind === 'payload') {
        const put = store(cid, bytes)
        put.catch(() => {}) // awaited below, in order
        inFlight.push(put)
        stored++
        if (inFlight.length >= window) await inFlight.shift()
      }
      options.onProgress?.({ ...(check?.progress ?? counts), fileBytes: pack.size, phase: 'import' })
    }
    let summary: PackSummary
    if (verified !== undefined) {
      if (sequence.digest() !== verified.sequence || headBytes === undefined) throw changed()
      summary = verified.summary
    } else summary = check!.finish()
    while (inFlight.length > 0) await inFlight.shift()
    await store(head, headBytes!)
    stored++
    return { ...summary, fileBytes: pack.size, stored }
  } catch (e) {
    await Promise.allSettled(inFlight)
    throw e
  }
}
