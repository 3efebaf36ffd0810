import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Key, type Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import type { LogHeads } from '../../core/content-store.js'
import { readJson, writeJson } from '../../core/atomic-json.js'
import { fail } from '../../core/errors.js'
import { toCid } from '../../core/ids.js'

const LOG_ID = /^[0-9a-f]{1,64}$/

/** Throws INVALID_INPUT unless `logId` is a log id (hex, as pages carry it): it names a file or key. */
export function checkLogId (logId: string): void {
  if (!LOG_ID.test(logId)) throw fail('INVALID_INPUT', `not a log id (hex): ${logId}`)
}

/** Log heads held in memory, for a store that lives in one process. */
export function memoryLogHeads (): LogHeads {
  const heads = new Map<string, CID>()
  return {
    async record (logId, head) { checkLogId(logId); heads.set(logId, head) },
    async list () { return [...heads].map(([logId, head]) => ({ logId, head })) }
  }
}

/**
 * Log heads as one small JSON file per log in `dir`, each replaced atomically, so every process
 * sharing the store sees every log's head.
 * @example const heads = fileLogHeads('/home/me/.local/share/remotelog/store/blocks/log-heads')
 */
export function fileLogHeads (dir: string): LogHeads {
  return {
    async record (logId, head) {
      checkLogId(logId)
      await writeJson(join(dir, `${logId}.json`), { head: head.toString() })
    },
    async list () {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
        throw e
      }
      const heads: Array<{ logId: string, head: CID }> = []
      for (const name of names.filter(n => n.endsWith('.json'))) {
        const value = await readJson<{ head?: unknown }>(join(dir, name))
        if (typeof value?.head !== 'string') continue // removed meanwhile
        heads.push({ logId: name.slice(0, -'.json'.length), head: toCid(value.head) })
      }
      return heads
    }
  }
}

/** Log heads in a datastore (a Helia repo's), under `/remotelog/log-heads/<logId>`. */
export function datastoreLogHeads (datastore: Datastore): LogHeads {
  const PREFIX = '/remotelog/log-heads/'
  return {
    async record (logId, head, options) {
      checkLogId(logId)
      await datastore.put(new Key(PREFIX + logId), head.bytes, options)
    },
    async list (options) {
      const heads: Array<{ logId: string, head: CID }> = []
      for await (const { key, value } of datastore.query({ prefix: PREFIX }, options)) {
        heads.push({ logId: key.toString().slice(PREFIX.length), head: toCid(value) })
      }
      return heads
    }
  }
}
