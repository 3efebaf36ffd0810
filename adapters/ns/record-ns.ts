import { setTimeout as sleep } from 'node:timers/promises'
import { fail } from '../../core/errors.js'
import { decodePointer, encodePointer } from '../../core/head-pointer.js'
import type { CallOptions } from '../../core/content-store.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishOptions, ResolvedHead } from '../../core/name-system.js'
import { keyPairFromSecret, nameOfPublicKey, openRecord, signRecord } from '../../core/signed-record.js'

/** Where signed records live: a map, a folder, a remote service. */
export interface RecordStorage {
  read (name: string, options?: CallOptions): Promise<Uint8Array | undefined>
  /** Stores a record already checked by `acceptRecord` (a remote storage's server checks again). */
  write (name: string, record: Uint8Array, options?: CallOptions): Promise<void>
  /**
   * Runs a read-check-write of one name with every other writer of this storage kept out (a
   * mutex in memory, a file lock on disk). A remote storage leaves it out: its server checks.
   */
  exclusive? <T>(name: string, section: () => Promise<T>): Promise<T>
  close? (): Promise<void>
}

export interface RecordNsOptions {
  backend: string
  scheme: string
  storage: RecordStorage
  /** How often `watch` polls the storage. */
  pollMs?: number
}

/** A name system of signed records, with the checks a record store enforces on every write. */
export interface RecordNameSystem extends NameSystem {
  /** Verifies a record (signature, key, growing sequence, pointer value) and stores it. */
  acceptRecord (name: string, record: Uint8Array, options?: CallOptions): Promise<void>
  /** The stored record bytes, as a service hands them out. */
  readRecord (name: string, options?: CallOptions): Promise<Uint8Array>
}

/**
 * Name system of ed25519-signed records, modelled on IPNS: the name is the public key, the record
 * sequence is the log's revision and only grows. Forged, foreign, replayed and rolled-back records
 * are rejected when stored and again when resolved. Shared by the memory, local and twirp backends.
 */
export function recordNs (options: RecordNsOptions): RecordNameSystem {
  const { backend, scheme, storage } = options
  const highestSeen = new Map<string, number>()
  // The record this client last wrote or checked, per name: equal bytes need no second signature check.
  const checked = new Map<string, { bytes: Uint8Array, sequence: number, head: ResolvedHead }>()

  async function readRecord (name: string, callOptions?: CallOptions): Promise<Uint8Array> {
    const bytes = await storage.read(name, callOptions)
    if (bytes === undefined) throw fail('NOT_FOUND', `no record for ${scheme}:${name}`, { backend })
    return bytes
  }

  async function current (name: string, callOptions?: CallOptions): Promise<{ sequence: number, head: ResolvedHead } | undefined> {
    const bytes = await storage.read(name, callOptions)
    if (bytes === undefined) return undefined
    const known = checked.get(name)
    if (known !== undefined && Buffer.compare(known.bytes, bytes) === 0) return known
    const record = openRecord(name, bytes, backend)
    const opened = { bytes, sequence: record.sequence, head: decodePointer(record.value) }
    checked.set(name, opened)
    return opened
  }

  function checkNewer (name: string, sequence: number, existing: number | undefined): void {
    if (existing !== undefined && sequence <= existing) {
      throw fail('CONFLICT', `record sequence ${sequence} for ${name} is not above the current ${existing} (replayed or stale)`, { backend })
    }
  }

  const exclusive = async <T>(name: string, section: () => Promise<T>): Promise<T> =>
    storage.exclusive !== undefined ? await storage.exclusive(name, section) : await section()

  async function acceptRecord (name: string, bytes: Uint8Array, callOptions?: CallOptions): Promise<void> {
    const record = openRecord(name, bytes, backend)
    const head = decodePointer(record.value)
    if (head.revision !== record.sequence) throw fail('MALFORMED', `record sequence ${record.sequence} differs from its value's revision ${head.revision}`, { backend })
    await exclusive(name, async () => {
      checkNewer(name, record.sequence, (await current(name, callOptions))?.sequence)
      await storage.write(name, bytes, callOptions)
    })
  }

  async function resolve (name: string, callOptions?: CallOptions): Promise<ResolvedHead> {
    const record = openRecord(name, await readRecord(name, callOptions), backend)
    const seen = highestSeen.get(name)
    if (seen !== undefined && record.sequence < seen) {
      throw fail('CONFLICT', `record for ${name} rolled back from sequence ${seen} to ${record.sequence}`, { backend })
    }
    highestSeen.set(name, record.sequence)
    return decodePointer(record.value)
  }

  return {
    backend,
    scheme,
    capabilities: { watch: true, records: true },
    acceptRecord,
    readRecord,
    resolve,

    async nameOf (owner: OwnerKey): Promise<string> {
      return nameOfPublicKey(keyPairFromSecret(owner.secret).publicKey)
    },

    async publish (name: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions = {}) {
      const keys = keyPairFromSecret(owner.secret)
      if (nameOfPublicKey(keys.publicKey) !== name) throw fail('PERMISSION', `${scheme}:${name} belongs to another key`, { backend })
      const previous = publishOptions.previous
      const expected = previous === undefined ? '(none: a first publish)' : previous.toString()
      await exclusive(name, async () => {
        const existing = await current(name, publishOptions)
        if (existing !== undefined && (previous === undefined || !existing.head.head.equals(previous))) {
          throw fail('CONFLICT', `${scheme}:${name} points at ${existing.head.head.toString()} (revision ${existing.sequence}), not at this writer's last head ${expected}`, { backend })
        }
        checkNewer(name, record.revision, existing?.sequence)
        const signed = signRecord(name, record.revision, encodePointer(record), keys)
        await storage.write(name, signed, publishOptions)
        checked.set(name, { bytes: signed, sequence: record.revision, head: { head: record.head, length: record.length, revision: record.revision } })
      })
      highestSeen.set(name, record.revision)
      return {}
    },

    async * watch (name: string, watchOptions: CallOptions): AsyncIterable<ResolvedHead> {
      let last: string | undefined
      const signal = watchOptions.signal
      while (signal?.aborted !== true) {
        try {
          const head = await resolve(name, watchOptions)
          const key = `${head.revision}:${head.head.toString()}`
          if (key !== last) {
            last = key
            yield head
          }
        } catch (e) {
          if ((e as { code?: string }).code !== 'NOT_FOUND') throw e
        }
        await sleep(options.pollMs ?? 100, undefined, { signal }).catch(() => {})
      }
    },

    async close () {
      await storage.close?.()
    }
  }
}
