import { PackChecker, type PackSummary } from './pack-check.js'
import { openPack } from './pack-read.js'

/** Progress of a pass over a pack: blocks, block bytes and entries so far, and the file's size. */
export interface PackProgress {
  blocks: number
  bytes: number
  messages: number
  fileBytes?: number
}

/** Options of a verify: abort it, and watch it progress. */
export interface VerifyPackOptions {
  signal?: AbortSignal
  /** Called after each block. */
  onProgress?: (progress: PackProgress) => void
}

/**
 * Verifies a pack file in one streaming pass: every block against its CID, the page chain
 * (tails, sequences, no gaps — an incremental pack may start mid-log because its manifest says
 * so), and that every payload an entry points at is there. Resolves with what the pack holds;
 * rejects with the first problem (INTEGRITY for a corrupt block, MALFORMED for a truncated,
 * incomplete or foreign file, NOT_FOUND for a missing file).
 * @example
 * const summary = await verifyPack('backup.car')
 * console.log(summary.messages, summary.incremental)
 */
export async function verifyPack (file: string, options: VerifyPackOptions = {}): Promise<PackSummary & { fileBytes: number }> {
  const pack = await openPack(file, options.signal)
  const check = new PackChecker(pack.roots)
  for await (const { cid, bytes } of pack.blocks) {
    check.accept(cid, bytes)
    options.onProgress?.({ ...check.progress, fileBytes: pack.size })
  }
  return { ...check.finish(), fileBytes: pack.size }
}
