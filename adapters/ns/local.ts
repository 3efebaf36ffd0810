import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { replaceFile } from '../../core/durable-file.js'
import { fail } from '../../core/errors.js'
import { withFileLock } from '../../core/file-lock.js'
import { recordNs, type RecordNameSystem } from './record-ns.js'

export interface LocalNsOptions {
  /** Folder of the records, shared by every endpoint that uses the same store. */
  path: string
  pollMs?: number
}

/**
 * On-disk name system of signed records: one file per name, replaced atomically (write, fsync,
 * rename) under a lock per name, so processes sharing the folder publish one at a time: of two
 * racing publishes from the same head, exactly one wins and the other gets CONFLICT.
 * @example const ns = localNs({ path: '/home/me/.local/share/remotelog/store/names' })
 */
export function localNs (options: LocalNsOptions): RecordNameSystem {
  const file = (name: string): string => {
    if (!/^[a-z0-9]+$/.test(name)) throw fail('INVALID_INPUT', `not a local name: ${name}`, { backend: 'local' })
    return join(options.path, `${name}.record`)
  }
  let ready: Promise<unknown> | undefined
  return recordNs({
    backend: 'local',
    scheme: 'local',
    pollMs: options.pollMs,
    storage: {
      async read (name) {
        try {
          return new Uint8Array(await readFile(file(name)))
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
          throw fail('UNAVAILABLE', `cannot read ${file(name)}`, { backend: 'local', cause: e })
        }
      },
      async write (name, record) {
        ready ??= mkdir(options.path, { recursive: true })
        await ready
        await replaceFile(file(name), record, { mode: 0o644 })
      },
      async exclusive (name, section) {
        return await withFileLock(`${file(name)}.lock`, section)
      }
    }
  })
}
