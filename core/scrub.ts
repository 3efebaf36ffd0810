import type { CID } from 'multiformats/cid'
import type { ContentStore } from './content-store.js'
import { crashPoint } from './crash-point.js'
import { fail, isRemoteLogError } from './errors.js'
import { toCid } from './ids.js'
import { encodePage, PAGE_FORMAT, type Entry } from './page.js'
import { fetchPage, walkChain } from './page-chain.js'
import { memoryScrubJournal, type ScrubJournal, type ScrubRecord } from './scrub-journal.js'
import type { LogWriter, PublishResult } from './writer.js'

/** Where a scrub keeps its own journal between its publish and its deletes, and an abort signal. */
export interface ScrubOptions {
  /** Where the scrub records what to delete across a crash (default: in memory). */
  journal?: ScrubJournal
  signal?: AbortSignal
}

/** What a scrub did. */
export interface ScrubResult {
  /** Sequence numbers this call scrubbed (sorted). */
  scrubbed: number[]
  /** Sequence numbers asked for that were scrubbed before: nothing to do for them. */
  already: number[]
  /** Every sequence number scrubbed from the log so far. */
  all: number[]
  /** The publish of the rewritten log; undefined when nothing new was scrubbed. */
  publish?: PublishResult
  /** Pages rewritten (from the oldest holding a scrubbed entry up to the head). */
  pages: number
  /** Store objects deleted: payloads no remaining entry uses, superseded pages that held one inline. */
  deleted: string[]
  /**
   * Payloads kept because an entry that was not scrubbed has the same bytes — in this log, or in
   * another log whose head the store records (or whose chain could not be read to tell).
   */
  kept: string[]
  /** Objects to delete that the store cannot delete (it has no `delete`). */
  undeletable: string[]
}

const NOTHING_NEW = Symbol('nothing new to scrub')

/**
 * Removes entries from a log (SPEC §7). Each scrubbed entry keeps its sequence number and
 * localHash as a tombstone without payload; the pages from the oldest one holding a scrubbed entry
 * up to the head are rewritten (their tails change), the head page lists every scrubbed sequence,
 * and the log is republished with revision + 1 through the writer — crash-safe like a publish.
 * Then the payloads no remaining entry points at, and the superseded pages that carried a scrubbed
 * payload inline, are deleted where the store can delete (helia: unpinned and removed; memory,
 * local: removed). Readers that sync afterwards get tombstones; readers that had the payloads
 * drop them on their next sync. Idempotent: sequences scrubbed before are reported in `already`.
 * A scrub a crash cut short is finished by the next call (with any sequences, or none): an
 * unfinished publish is completed first (with whatever appends were pending, as any publish), then
 * the deletes it had recorded.
 *
 * Old versions of the head page from earlier publishes were released by the writer when they were
 * replaced (deleted on local and memory stores; unpinned on IPFS stores, so gone after their gc).
 * @example
 * const result = await scrub(writer, [3, 17], { journal: fileScrubJournal(path) })
 * console.log(result.scrubbed, result.deleted.length)
 */
export async function scrub (writer: LogWriter, seqs: number[], options: ScrubOptions = {}): Promise<ScrubResult> {
  const { cas, storage } = writer.backends
  const journal = options.journal ?? memoryScrubJournal()
  const signal = options.signal
  for (const s of seqs) {
    if (!Number.isSafeInteger(s) || s < 0) throw fail('INVALID_INPUT', `not a sequence number: ${s}`)
  }

  // Finish what an interrupted scrub left: its publish first, then its deletes.
  if ((await storage.loadState())?.intent !== undefined) await writer.publish()
  const result: ScrubResult = { scrubbed: [], already: [], all: [...writer.scrubbed], pages: 0, deleted: [], kept: [], undeletable: [] }
  const leftover = await journal.load()
  if (leftover !== undefined) {
    const committed = new Set(writer.scrubbed)
    if (leftover.seqs.every(s => committed.has(s))) await deleteObjects(cas, writer.logId, leftover.delete, result, signal)
    await journal.clear()
  }

  const wanted = [...new Set(seqs)].sort((a, b) => a - b)
  const beyond = wanted.filter(s => s >= writer.length)
  if (beyond.length > 0) throw fail('INVALID_INPUT', `cannot scrub ${beyond.join(', ')}: the log has ${writer.length} published entries (publish pending appends first)`)
  let record: ScrubRecord | undefined
  const known = new Set(writer.scrubbed)
  const rewrite = async (current: { head?: CID, revision: number, scrubbed: readonly number[] }): Promise<{ head: CID, scrubbed: number[] }> => {
    if (current.head === undefined) throw fail('INVALID_INPUT', 'the log has nothing published to scrub')
    const done = new Set(current.scrubbed)
    const fresh = wanted.filter(s => !done.has(s))
    if (fresh.length === 0) throw NOTHING_NEW
    const all = [...done, ...fresh].sort((a, b) => a - b)
    const pages = await rewritePages(cas, current.head, fresh, current.revision + 1, all, signal)
    result.pages = pages.pages
    result.kept = pages.kept
    record = { seqs: fresh, head: pages.head.toString(), delete: pages.delete }
    await journal.save(record)
    return { head: pages.head, scrubbed: all }
  }
  if (wanted.some(s => !known.has(s))) {
    try {
      result.publish = await writer.republish(rewrite)
    } catch (e) {
      if (e !== NOTHING_NEW) throw e
    }
  }
  result.all = [...writer.scrubbed]
  const before = new Set(record?.seqs ?? [])
  result.scrubbed = wanted.filter(s => before.has(s))
  result.already = wanted.filter(s => !before.has(s))
  if (record !== undefined) {
    crashPoint('after-scrub-publish')
    await deleteObjects(cas, writer.logId, record.delete, result, signal)
    await journal.clear()
  }
  return result
}

interface Rewrite { head: CID, pages: number, delete: string[], kept: string[] }

/** Writes new versions of the pages from the one holding `fresh[0]` up to the head. */
async function rewritePages (cas: ContentStore, head: CID, fresh: number[], revision: number, all: number[], signal?: AbortSignal): Promise<Rewrite> {
  const scrubbing = new Set(fresh)
  const affected: CID[] = []
  const payloads = new Set<string>()
  const inlinePages: string[] = []
  for await (const { id, page } of walkChain(cas, head, { from: fresh[0], signal })) {
    affected.push(id)
    const hit = page.entries.filter(e => scrubbing.has(e.seq) && e.tombstone !== true)
    for (const e of hit) if (e.remoteHash !== undefined) payloads.add(e.remoteHash.toString())
    if (hit.some(e => e.data !== undefined)) inlinePages.push(id.toString())
  }

  // Same bytes, same CID: a payload another entry still points at must stay.
  const kept = new Set<string>()
  if (payloads.size > 0) await addUsed(cas, head, payloads, kept, signal, seq => scrubbing.has(seq))

  let tail: CID | undefined
  for (let i = affected.length - 1; i >= 0; i--) {
    const { page } = await fetchPage(cas, affected[i], signal)
    const entries = page.entries.map((e): Entry => scrubbing.has(e.seq) ? { seq: e.seq, localHash: e.localHash, tombstone: true } : e)
    tail = await cas.put(encodePage({
      format: PAGE_FORMAT,
      firstSeq: page.firstSeq,
      entries,
      tail: i === affected.length - 1 ? page.tail : tail,
      length: page.length,
      revision,
      scrubbed: i === 0 ? all : [],
      logId: page.logId
    }), { signal })
  }
  return {
    head: tail!,
    pages: affected.length,
    delete: [...[...payloads].filter(p => !kept.has(p)), ...inlinePages],
    kept: [...kept]
  }
}

async function deleteObjects (cas: ContentStore, logId: string, ids: string[], result: ScrubResult, signal?: AbortSignal): Promise<void> {
  if (cas.delete === undefined || !cas.capabilities.delete) {
    result.undeletable.push(...ids)
    return
  }
  // Checked right before deleting, so a log that took up the same bytes since the rewrite counts too.
  const used = await usedByOtherLogs(cas, logId, new Set(ids), signal)
  for (const id of ids) {
    if (used.has(id)) {
      result.kept.push(id)
      continue
    }
    try {
      await cas.delete(toCid(id), { signal })
    } catch (e) {
      if (!isRemoteLogError(e, 'NOT_FOUND')) throw e
    }
    result.deleted.push(id)
  }
}

/**
 * Which of `ids` other logs sharing the store point at (same bytes, same CID). A log whose chain
 * cannot be read might use any of them, so then all are reported used: nothing is deleted that
 * another log may need.
 */
async function usedByOtherLogs (cas: ContentStore, logId: string, ids: Set<string>, signal?: AbortSignal): Promise<Set<string>> {
  const used = new Set<string>()
  for (const other of await cas.heads?.list({ signal }) ?? []) {
    if (other.logId === logId) continue
    try {
      await addUsed(cas, other.head, ids, used, signal)
    } catch (e) {
      if (signal?.aborted === true) throw e
      return new Set(ids)
    }
  }
  return used
}

/** Adds to `used` each of `ids` that a live entry of the chain at `head` points at (except entries `skip` names). */
async function addUsed (cas: ContentStore, head: CID, ids: Set<string>, used: Set<string>, signal?: AbortSignal, skip = (_seq: number) => false): Promise<void> {
  for await (const { page } of walkChain(cas, head, { signal })) {
    for (const e of page.entries) {
      const key = e.remoteHash?.toString()
      if (key !== undefined && ids.has(key) && e.tombstone !== true && !skip(e.seq)) used.add(key)
    }
  }
}
