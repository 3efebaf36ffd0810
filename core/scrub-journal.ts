import { rm } from 'node:fs/promises'
import { readJson, writeJson } from './atomic-json.js'

/** A scrub whose rewritten pages are in the CAS, recorded before its publish. */
export interface ScrubRecord {
  /** Sequence numbers this scrub removes. */
  seqs: number[]
  /** The rewritten head it publishes. */
  head: string
  /** CAS ids to delete once the publish is acknowledged (payloads, superseded pages). */
  delete: string[]
}

/**
 * Where a scrub remembers what to delete between its publish and its deletes, so a crash in
 * between is finished by the next scrub instead of leaving scrubbed payloads in the store.
 */
export interface ScrubJournal {
  load (): Promise<ScrubRecord | undefined>
  save (record: ScrubRecord): Promise<void>
  clear (): Promise<void>
}

/**
 * A scrub journal in memory (for library users who hold the writer in memory too).
 * @example await scrub(writer, [3], { journal: memoryScrubJournal() })
 */
export function memoryScrubJournal (): ScrubJournal {
  let record: ScrubRecord | undefined
  return {
    async load () { return record === undefined ? undefined : structuredClone(record) },
    async save (r) { record = structuredClone(r) },
    async clear () { record = undefined }
  }
}

/**
 * A scrub journal in one JSON file, replaced atomically.
 * @example const journal = fileScrubJournal(join(stateDir, 'logs', 'default', 'scrub.json'))
 */
export function fileScrubJournal (path: string): ScrubJournal {
  return {
    async load () { return await readJson<ScrubRecord>(path) },
    async save (record) { await writeJson(path, record) },
    async clear () { await rm(path, { force: true }) }
  }
}
