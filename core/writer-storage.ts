import { mkdir, rename, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readJson, writeJson } from './atomic-json.js'
import { EntryFile, encodeEntries, type StoredEntry } from './entry-file.js'

/** What a writer remembers between runs. Ids are CID strings. */
export interface WriterState {
  /** Last publish that the name system acknowledged. */
  revision: number
  length: number
  head?: string
  /** Sequence numbers scrubbed so far. */
  scrubbed: number[]
  /** The log's random id (hex), written on every page; taken from the head page when absent. */
  logId?: string
  /** The log has payloads in the CAS (pointer entries): its head is recorded in the store's `heads`. */
  payloads?: boolean
  /** A publish whose pages are in the CAS but whose NS update may not have happened yet. */
  intent?: { head: string, length: number, revision: number }
}

/** Where a writer keeps its state and its journal of appends not yet published. */
export interface WriterStorage {
  loadState (): Promise<WriterState | undefined>
  saveState (state: WriterState): Promise<void>
  readJournal (): Promise<StoredEntry[]>
  appendJournal (entries: StoredEntry[]): Promise<void>
  /** Replaces the journal with `keep` (the entries still unpublished). */
  resetJournal (keep: StoredEntry[]): Promise<void>
}

/** Writer storage in memory, for library users who keep their own durability. */
export function memoryWriterStorage (): WriterStorage {
  let state: WriterState | undefined
  let journal: StoredEntry[] = []
  return {
    async loadState () { return state === undefined ? undefined : structuredClone(state) },
    async saveState (s) { state = structuredClone(s) },
    async readJournal () { return [...journal] },
    async appendJournal (entries) { journal.push(...entries) },
    async resetJournal (keep) { journal = [...keep] }
  }
}

/**
 * Writer storage in a folder: `state.json` (replaced atomically) and `journal` (append-only).
 * An append is acknowledged once its journal write returned, so a killed process loses nothing.
 */
export function fileWriterStorage (dir: string): WriterStorage {
  const statePath = join(dir, 'state.json')
  const journal = new EntryFile(join(dir, 'journal'))
  let ready: Promise<unknown> | undefined
  const ensureDir = async (): Promise<void> => { await (ready ??= mkdir(dir, { recursive: true })) }
  return {
    async loadState () { return await readJson<WriterState>(statePath) },
    async saveState (state) { await ensureDir(); await writeJson(statePath, state) },
    async readJournal () { return await journal.readAll() },
    async appendJournal (entries) { await ensureDir(); await journal.append(entries) },
    async resetJournal (keep) {
      await ensureDir()
      if (keep.length === 0) {
        await truncate(journal.path, 0).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e })
        return
      }
      const temp = `${journal.path}.new`
      await writeFile(temp, encodeEntries(keep))
      await rename(temp, journal.path)
    }
  }
}
