import { mkdir, readdir, rename, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { readJson, writeJson } from './atomic-json.js'
import { EntryFile, type StoredEntry } from './entry-file.js'
import { fail } from './errors.js'
import type { Cursor } from './reader.js'

/** A followed log on disk: its address, its cursor and the messages delivered so far. */
export interface FollowRecord {
  alias: string
  address: string
  cursor: Cursor
  /** Bytes of the messages file the cursor accounts for. */
  fileBytes: number
  lastSync?: string
}

const ALIAS = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * Followed logs in `<stateDir>/follows/<alias>/`: `follow.json` (replaced atomically) and
 * `messages` (append-only). Delivery appends messages first and moves the cursor after, so a
 * reader killed in between finds the extra messages on reopen and counts them, never twice.
 */
export class FollowStore {
  constructor (private readonly root: string) {}

  private dir (alias: string): string {
    if (!ALIAS.test(alias)) throw fail('INVALID_INPUT', `alias must be 1-64 letters, digits, _ . or -: ${alias}`)
    return join(this.root, alias)
  }

  messages (alias: string): EntryFile {
    return new EntryFile(join(this.dir(alias), 'messages'))
  }

  async list (): Promise<FollowRecord[]> {
    let names: string[]
    try {
      names = await readdir(this.root)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
    const records = await Promise.all(names.sort().map(async n => await readJson<FollowRecord>(join(this.root, n, 'follow.json'))))
    return records.filter((r): r is FollowRecord => r !== undefined)
  }

  async get (alias: string): Promise<FollowRecord> {
    const record = await readJson<FollowRecord>(join(this.dir(alias), 'follow.json'))
    if (record === undefined) throw fail('NOT_FOUND', `not following "${alias}" (see: remotelog follow ADDRESS --as ${alias})`)
    return record
  }

  async has (alias: string): Promise<boolean> {
    return await readJson(join(this.dir(alias), 'follow.json')) !== undefined
  }

  async save (record: FollowRecord): Promise<void> {
    await mkdir(this.dir(record.alias), { recursive: true })
    await writeJson(join(this.dir(record.alias), 'follow.json'), record)
  }

  async remove (alias: string): Promise<void> {
    await this.get(alias)
    await rm(this.dir(alias), { recursive: true, force: true })
  }

  /**
   * Brings the cursor in line with the messages file: counts whole records written after the
   * cursor was saved (a sync killed mid-way) and cuts off a torn last record.
   */
  async reconcile (record: FollowRecord): Promise<FollowRecord> {
    const file = this.messages(record.alias)
    const size = await file.size()
    if (size === record.fileBytes) return record
    // Shorter than the cursor says: a payload drop was cut short after its rename; count from the start.
    const from = size < record.fileBytes ? 0 : record.fileBytes
    let end = from
    let length = from === 0 ? 0 : record.cursor.length
    for await (const item of file.read(from)) {
      end = item.end
      length = item.entry.seq + 1
    }
    if (end < size) await truncate(file.path, end)
    const reconciled = { ...record, fileBytes: end, cursor: { length, scrubbed: record.cursor.scrubbed } }
    await this.save(reconciled)
    return reconciled
  }

  /** Rewrites the messages file with the payloads of `seqs` dropped (the writer scrubbed them). */
  async dropPayloads (record: FollowRecord, seqs: number[]): Promise<FollowRecord> {
    const drop = new Set(seqs)
    const file = this.messages(record.alias)
    const entries: StoredEntry[] = (await file.readAll()).map(e => drop.has(e.seq) ? { seq: e.seq, localHash: e.localHash, tombstone: true } : e)
    const replacement = new EntryFile(`${file.path}.new`)
    await rm(replacement.path, { force: true })
    await replacement.append(entries)
    await rename(replacement.path, file.path)
    const updated = { ...record, fileBytes: await file.size() }
    await this.save(updated)
    return updated
  }
}
