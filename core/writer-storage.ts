import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { readJson, writeJson } from './atomic-json.js'
import { replaceFile, type Durability } from './durable-file.js'
import { EntryFile, encodeEntries, type StoredEntry } from './entry-file.js'
import { FileLease } from './file-lock.js'

/** What a writer remembers between runs. Ids are CID strings. */
export interface WriterState {
  /** Last publish that the name system acknowledged. */
  revision: number
  length: number
  head?: string
  /** Sequence numbers scrubbed so far. */
  scrubbed: number[]
  /** The log's id (hex), written on every page; taken from the head page when absent. */
  logId?: string
  /** The log has payloads in the CAS (pointer entries): its head is recorded in the store's `heads`. */
  payloads?: boolean
  /** A publish whose pages are in the CAS but whose NS update may not have happened yet. */
  intent?: { head: string, length: number, revision: number }
}

/**
 * Where a writer keeps its state and its journal of appends not yet published. The writer calls
 * the other methods only inside `exclusive`, which keeps every other writer of the same storage
 * (another process on the same state dir) out until it returns.
 */
export interface WriterStorage {
  exclusive<T> (section: () => Promise<T>): Promise<T>
  loadState (): Promise<WriterState | undefined>
  saveState (state: WriterState): Promise<void>
  readJournal (): Promise<StoredEntry[]>
  /** Appends one batch, all of it or nothing; acknowledged (durable) when it returns. */
  appendJournal (entries: readonly StoredEntry[]): Promise<void>
  /** Replaces the journal with `keep` (the entries still unpublished). */
  resetJournal (keep: readonly StoredEntry[]): Promise<void>
  /** Entries below `length` are published: the storage drops them from the journal, now or later. */
  dropPublished (length: number): Promise<void>
  /** Lets go of what it holds (a lock kept between sections). */
  close? (): Promise<void>
}

/** Writer storage in memory, for library users who keep their own durability (one process). */
export function memoryWriterStorage (): WriterStorage {
  let state: WriterState | undefined
  let journal: StoredEntry[] = []
  return {
    async exclusive (section) { return await section() },
    async loadState () { return state === undefined ? undefined : structuredClone(state) },
    async saveState (s) { state = structuredClone(s) },
    async readJournal () { return journal.slice() },
    async appendJournal (entries) { for (const e of entries) journal.push(e) },
    async resetJournal (keep) { journal = keep.slice() },
    async dropPublished (length) { journal = journal.filter(e => e.seq >= length) }
  }
}

/** Identifies one version of a file: a rename gives a new inode, an append a new size. */
async function version (path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true })
    return `${s.ino}:${s.size}:${s.mtimeNs}`
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none'
    throw e
  }
}

/** Published entries are left in the journal until there are this many, or this many payload bytes. */
const STALE_ENTRIES = 256
const STALE_BYTES = 1 << 20

/**
 * Writer storage in a folder: `state.json` (replaced atomically) and `journal` (append-only,
 * checksummed batches), guarded by the cross-process lock `lockPath`, which this process keeps for
 * a few milliseconds after each section (see `FileLease`): while it keeps it, state and journal are
 * as it left them and are not read again. An append is acknowledged once its journal batch is
 * written (and, with `fsync` durability, flushed to disk). Published entries stay in the journal
 * until there are enough to be worth a rewrite (readers of the journal skip them by the state's length).
 */
export function fileWriterStorage (dir: string, options: { lockPath?: string, durability?: Durability } = {}): WriterStorage {
  const durability = options.durability ?? 'fsync'
  const statePath = join(dir, 'state.json')
  const journal = new EntryFile(join(dir, 'journal'), durability)
  const lease = new FileLease(options.lockPath ?? join(dir, 'writer.lock'))
  // What this process last read or wrote: current while the lease is unbroken (`heldSince`), and
  // for the journal also while the file is the same version.
  let state: { heldSince: number, value: WriterState | undefined } | undefined
  let cached: { heldSince?: number, version: string, entries: StoredEntry[] } | undefined
  const current = (held: number | undefined): boolean => held !== undefined && held === lease.heldSince
  let ready: Promise<unknown> | undefined
  const ensureDir = async (): Promise<void> => { await (ready ??= mkdir(dir, { recursive: true, mode: 0o700 })) }
  const rewriteJournal = async (keep: readonly StoredEntry[]): Promise<void> => {
    await ensureDir()
    await replaceFile(journal.path, encodeEntries(keep), { durability })
    cached = { heldSince: lease.heldSince, entries: keep.slice(), version: await version(journal.path) }
  }
  const storage: WriterStorage = {
    async exclusive (section) { return await lease.run(section) },
    async loadState () {
      if (state === undefined || !current(state.heldSince)) state = { heldSince: lease.heldSince ?? -1, value: await readJson<WriterState>(statePath) }
      return state.value === undefined ? undefined : structuredClone(state.value)
    },
    async saveState (value) {
      await ensureDir()
      await writeJson(statePath, value, { durability })
      state = { heldSince: lease.heldSince ?? -1, value: structuredClone(value) }
    },
    async readJournal () {
      if (cached === undefined || !current(cached.heldSince)) {
        const now = await version(journal.path)
        if (cached?.version !== now) cached = { entries: await journal.readAll(), version: await version(journal.path) }
        cached.heldSince = lease.heldSince
      }
      return cached.entries.slice()
    },
    async appendJournal (entries) {
      await ensureDir()
      const known = cached !== undefined && (current(cached.heldSince) || cached.version === await version(journal.path)) ? cached.entries : undefined
      await journal.append(entries)
      if (known === undefined) {
        cached = undefined
        return
      }
      for (const e of entries) known.push(e)
      cached = { heldSince: lease.heldSince, entries: known, version: await version(journal.path) }
    },
    async resetJournal (keep) { await rewriteJournal(keep) },
    async dropPublished (length) {
      const entries = await storage.readJournal()
      const stale = entries.filter(e => e.seq < length)
      const bytes = stale.reduce((n, e) => n + (e.payload?.byteLength ?? 0), 0)
      if (stale.length >= STALE_ENTRIES || bytes >= STALE_BYTES) await rewriteJournal(entries.filter(e => e.seq >= length))
    },
    async close () { await lease.close() }
  }
  return storage
}
