import { mkdir, readdir, rename, rm, truncate } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { readJson, writeJson } from './atomic-json.js'
import { syncDir, type Durability } from './durable-file.js'
import { EntryFile, type StoredEntry } from './entry-file.js'
import { fail } from './errors.js'
import { withFileLock } from './file-lock.js'
import { INDEX_STRIDE, MessageIndex } from './message-index.js'
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

// No leading dot: `.`, `..` and hidden names are not aliases, so an alias's folder stays inside `follows/`.
const ALIAS = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/

/** Checks an alias: 1-64 letters, digits, `_`, `.` or `-`, not starting with a dot. */
export function checkAlias (alias: string): string {
  if (!ALIAS.test(alias)) throw fail('INVALID_INPUT', `an alias is 1-64 letters, digits, _ . or - and does not start with a dot: ${JSON.stringify(alias)}`)
  return alias
}

/** The alias a followed name gets when none is given: its safe characters, never a dot name. */
export function defaultAlias (name: string): string {
  const alias = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '').slice(0, 64)
  return alias === '' ? 'log' : alias
}

/**
 * Followed logs in `<stateDir>/follows/<alias>/`: `follow.json` (replaced atomically) and
 * `messages` (append-only). Delivery appends messages first and moves the cursor after, so a
 * reader killed in between finds the extra messages on reopen and counts them, never twice.
 */
export class FollowStore {
  /**
   * @param root `<stateDir>/follows`
   * @param locks the folder of the per-alias locks (`<stateDir>/locks`)
   */
  constructor (private readonly root: string, private readonly locks: string, private readonly durability: Durability = 'fsync') {}

  private dir (alias: string): string {
    return join(this.root, checkAlias(alias))
  }

  messages (alias: string): EntryFile {
    return new EntryFile(join(this.dir(alias), 'messages'), this.durability)
  }

  /** The sparse index of an alias's messages file (see core/message-index.ts). */
  index (alias: string): MessageIndex {
    return new MessageIndex(join(this.dir(alias), 'messages.idx'))
  }

  /**
   * The delivered messages of an alias from `from` on, in order: seeks through the index instead of
   * reading the file from its start, and falls back to the start when the index does not match.
   */
  async * read (alias: string, from = 0): AsyncGenerator<StoredEntry> {
    const file = this.messages(alias)
    const point = await this.index(alias).seek(from)
    if (point.offset > 0) {
      let first = true
      try {
        for await (const { entry } of file.read(point.offset)) {
          if (first && entry.seq !== point.seq) break
          first = false
          if (entry.seq >= from) yield entry
        }
        if (!first) return
      } catch (e) {
        if (!first) throw e
      }
    }
    for await (const { entry } of file.read(0)) if (entry.seq >= from) yield entry
  }

  /** Writes the index of an alias's messages file afresh from the file (after a rewrite or a crash). */
  async reindex (alias: string): Promise<void> {
    const points: number[] = []
    let start = 0
    for await (const { entry, end } of this.messages(alias).read(0)) {
      if (entry.seq % INDEX_STRIDE === 0) points.push(start)
      start = end
    }
    await this.index(alias).rebuild(points)
  }

  /**
   * Runs `section` with the followed log to itself across processes: one sync at a time per
   * alias (a second one waits, then finds what the first delivered), and follow/unfollow in between.
   */
  async exclusive<T> (alias: string, section: () => Promise<T>): Promise<T> {
    return await withFileLock(join(this.locks, `follow-${checkAlias(alias)}.lock`), section)
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
    await mkdir(this.dir(record.alias), { recursive: true, mode: 0o700 })
    await writeJson(join(this.dir(record.alias), 'follow.json'), record, { durability: this.durability })
  }

  async remove (alias: string): Promise<void> {
    await this.get(alias)
    await rm(this.dir(alias), { recursive: true, force: true })
    if (this.durability === 'fsync') await syncDir(dirname(this.dir(alias)))
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
    await this.reindex(record.alias)
    return reconciled
  }

  /** Rewrites the messages file with the payloads of `seqs` dropped (the writer scrubbed them). */
  async dropPayloads (record: FollowRecord, seqs: number[]): Promise<FollowRecord> {
    const drop = new Set(seqs)
    const file = this.messages(record.alias)
    const entries: StoredEntry[] = (await file.readAll()).map(e => drop.has(e.seq) ? { seq: e.seq, localHash: e.localHash, tombstone: true } : e)
    const replacement = new EntryFile(`${file.path}.new`, this.durability)
    await rm(replacement.path, { force: true })
    await replacement.append(entries)
    await rename(replacement.path, file.path)
    if (this.durability === 'fsync') await syncDir(dirname(file.path))
    const updated = { ...record, fileBytes: await file.size() }
    await this.save(updated)
    await this.reindex(record.alias)
    return updated
  }
}
