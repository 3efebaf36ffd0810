import { watch, type FSWatcher } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { replaceFile, type Durability } from '../../core/durable-file.js'
import { fail } from '../../core/errors.js'
import { FileLease } from '../../core/file-lock.js'
import { readWholeFile } from '../read-whole-file.js'
import type { Disarm } from './head-watch.js'
import { recordNs, type RecordNameSystem } from './record-ns.js'

/** Where the on-disk name system keeps its records, and how often a watch polls where it cannot be told. */
export interface LocalNsOptions {
  /** Folder of the records, shared by every endpoint that uses the same store. */
  path: string
  /** `fsync` (default): a published record is on disk when publish returns; `process`: it survives a killed process. */
  durability?: Durability
  /**
   * `watch` hears of new records by file-system notifications (any process's writes); it re-reads
   * the record at least this often in case one is lost, and polls this often where the file system
   * gives none. Default 100 ms.
   */
  pollMs?: number
  /**
   * False: no file-system notifications, `watch` polls every `pollMs` — for a folder on a network
   * file system, where other machines' writes raise no events. Default true.
   */
  notify?: boolean
}

interface Subscriber { onChange: () => void, onBroken: () => void }

/**
 * One `fs.watch` of a folder for every subscriber, by file name: opened with the first subscriber,
 * closed with the last. A file name the platform does not report wakes every subscriber. When the
 * watcher fails (the folder went away), every subscriber is told and the next subscribe opens a new one.
 */
function folderWatcher (path: string): { subscribe: (file: string, subscriber: Subscriber) => Promise<Disarm> } {
  const byFile = new Map<string, Set<Subscriber>>()
  let watcher: FSWatcher | undefined
  let ready: Promise<unknown> | undefined

  const all = (): Subscriber[] => [...byFile.values()].flatMap(set => [...set])
  function stop (): void {
    watcher?.close()
    watcher = undefined
  }

  return {
    async subscribe (file, subscriber) {
      if (watcher === undefined) {
        // Watching needs the folder; a reader may come before any writer made it.
        ready ??= mkdir(path, { recursive: true }).finally(() => { ready = undefined })
        await ready.catch(() => {})
        if (watcher === undefined) {
          const opened = watch(path, { persistent: false })
          opened.on('change', (_event, filename) => {
            if (filename === null || filename === undefined) for (const s of all()) s.onChange()
            else for (const s of [...byFile.get(filename.toString()) ?? []]) s.onChange()
          })
          opened.on('error', () => {
            if (watcher !== opened) return
            const told = all()
            byFile.clear()
            stop()
            for (const s of told) s.onBroken()
          })
          watcher = opened
        }
      }
      const current = watcher
      let set = byFile.get(file)
      if (set === undefined) byFile.set(file, set = new Set())
      set.add(subscriber)
      return () => {
        const mine = byFile.get(file)
        if (mine?.delete(subscriber) !== true) return
        if (mine.size === 0) byFile.delete(file)
        if (byFile.size === 0 && watcher === current) stop()
      }
    }
  }
}

/**
 * On-disk name system of signed records: one file per name, replaced atomically (write, fsync,
 * rename) under a lock per name (kept a few milliseconds past each publish), so processes sharing the folder publish one at a time: of two
 * racing publishes from the same head, exactly one wins and the other gets CONFLICT. `watch` is
 * pushed by file-system notifications of the folder (inotify, FSEvents, …), so a reader in another
 * process sees a publish within a millisecond or so; it polls where the platform has none.
 * @example const ns = localNs({ path: '/home/me/.local/share/remotelog/store/names' })
 */
export function localNs (options: LocalNsOptions): RecordNameSystem {
  const file = (name: string): string => {
    if (!/^[a-z0-9]+$/.test(name)) throw fail('INVALID_INPUT', `not a local name: ${name}`, { backend: 'local' })
    return join(options.path, `${name}.record`)
  }
  let ready: Promise<unknown> | undefined
  const folder = folderWatcher(options.path)
  // Kept a few milliseconds past each publish, so a writer publishing one message at a time locks once.
  const locks = new Map<string, FileLease>()
  // The record this process last wrote under a lock it has held since: what a publish's check reads.
  const written = new Map<string, { heldSince: number, record: Uint8Array }>()
  const inside = new Set<string>()
  const ownWrite = (name: string): Uint8Array | undefined => {
    const mine = written.get(name)
    return inside.has(name) && mine !== undefined && mine.heldSince === locks.get(name)?.heldSince ? mine.record : undefined
  }
  return recordNs({
    backend: 'local',
    scheme: 'local',
    pollMs: options.pollMs,
    storage: {
      async read (name) {
        const mine = ownWrite(name)
        if (mine !== undefined) return mine
        try {
          return await readWholeFile(file(name))
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
          throw fail('UNAVAILABLE', `cannot read ${file(name)}`, { backend: 'local', cause: e })
        }
      },
      async write (name, record) {
        ready ??= mkdir(options.path, { recursive: true })
        await ready
        await replaceFile(file(name), record, { mode: 0o644, durability: options.durability })
        const heldSince = locks.get(name)?.heldSince
        if (inside.has(name) && heldSince !== undefined) written.set(name, { heldSince, record })
      },
      async exclusive (name, section) {
        let lock = locks.get(name)
        if (lock === undefined) locks.set(name, lock = new FileLease(`${file(name)}.lock`))
        return await lock.run(async () => {
          inside.add(name)
          try {
            return await section()
          } finally {
            inside.delete(name)
          }
        })
      },
      async close () {
        await Promise.all([...locks.values()].map(async lock => { await lock.close() }))
      },
      subscribe: options.notify === false
        ? undefined
        : async (name, onChange, onBroken) => {
          file(name)
          return await folder.subscribe(`${name}.record`, { onChange, onBroken })
        }
    }
  })
}
