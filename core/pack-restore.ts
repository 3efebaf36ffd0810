import type { ContentStore } from './content-store.js'
import { formatAddress, parseAddress } from './address.js'
import { fail, isRemoteLogError } from './errors.js'
import { toCid } from './ids.js'
import type { LogOptions } from './log-options.js'
import type { NameSystem, OwnerKey, ResolvedHead } from './name-system.js'
import type { PackSummary } from './pack-check.js'
import { fetchPage, walkChain } from './page-chain.js'
import type { WriterState, WriterStorage } from './writer-storage.js'
import { LogWriter } from './writer.js'

/** The log a restored head continues: backends, owner key, the writer's storage. */
export interface RestoreHeadOptions {
  /** The store the pack was imported into; the writer continues the log there. */
  cas: ContentStore
  ns: NameSystem
  /** The log's owner key (copied from the old device). */
  owner: OwnerKey
  /** The writer storage of the log on this device; must hold no history yet. */
  storage: WriterStorage
  log?: Partial<LogOptions>
  signal?: AbortSignal
}

/** Where the restored log lives now, and whether the restore moved its name. */
export interface RestoreResult {
  address: string
  head: string
  length: number
  revision: number
  /** True when the name had to be moved to the pack's head (a fresh or older name system). */
  published: boolean
}

/**
 * Makes an imported pack's head the head of one of this device's logs, so the device continues
 * the same log: the writer state (head, length, revision, scrubbed list) is rebuilt from the
 * pack, and the name is published when the name system does not already point there. Refuses
 * (CONFLICT) when the key owns another name than the pack's address, when the local log already
 * has a different history, or when the name already points at a newer head. Idempotent, and
 * crash-safe through the writer's publish intent.
 * @example
 * const pack = await importPack('backup.car', cas)
 * await restoreHead(pack, { cas, ns, owner, storage: fileWriterStorage(dir) })
 */
export async function restoreHead (pack: PackSummary, options: RestoreHeadOptions): Promise<RestoreResult> {
  const { cas, ns, owner, storage, signal } = options
  const head = toCid(pack.head)
  if (!await cas.has(head, { signal })) throw fail('NOT_FOUND', `head page ${pack.head} is not in the ${cas.backend} store: import the pack first`)
  if (pack.continues !== undefined) await checkHistory(cas, pack, signal)

  const name = await ns.nameOf(owner, { signal })
  const address = formatAddress({ scheme: ns.scheme, name })
  if (pack.address !== undefined && parseAddress(pack.address).scheme === ns.scheme && pack.address !== address) {
    throw fail('CONFLICT', `this pack is of ${pack.address}, but the key of this log owns ${address}: restore with the old device's key`)
  }
  const result = { address, head: pack.head, length: pack.length, revision: pack.revision }

  const existing = await storage.loadState()
  if (existing?.head === pack.head && existing.intent === undefined) return { ...result, published: false }
  if (existing?.intent?.head === pack.head) {
    await (await LogWriter.open({ cas, ns, owner, storage, log: options.log })).publish() // a restore interrupted after recording its intent
    return { ...result, published: true }
  }
  if (existing?.head !== undefined || existing?.intent !== undefined || (await storage.readJournal()).length > 0) {
    throw fail('CONFLICT', `the log on this device already has history (head ${existing?.head ?? existing?.intent?.head ?? 'pending appends'}); restore into a log with none`)
  }

  const current = await resolveOrNone(ns, name, signal)
  const scrubbed = [...pack.scrubbed]
  let state: WriterState
  if (current?.head.equals(head) === true) {
    state = { revision: pack.revision, length: pack.length, head: pack.head, scrubbed }
  } else {
    const revision = current === undefined ? 0 : current.revision ?? (await fetchPage(cas, current.head, signal).catch(() => undefined))?.page.revision
    if (current !== undefined && (revision === undefined || revision >= pack.revision)) {
      throw fail('CONFLICT', `${address} already points at ${current.head.toString()} (revision ${revision ?? 'unknown'}), not older than this pack's revision ${pack.revision}`)
    }
    state = {
      revision: revision ?? 0,
      length: current?.length ?? 0,
      ...(current !== undefined ? { head: current.head.toString() } : {}),
      scrubbed,
      intent: { head: pack.head, length: pack.length, revision: pack.revision }
    }
  }
  await storage.saveState(state)
  // A publish finishes the recorded intent: it moves the name, then records the head.
  if (state.intent !== undefined) await (await LogWriter.open({ cas, ns, owner, storage, log: options.log })).publish()
  return { ...result, published: state.intent !== undefined }
}

async function resolveOrNone (ns: NameSystem, name: string, signal?: AbortSignal): Promise<ResolvedHead | undefined> {
  try {
    return await ns.resolve(name, { signal })
  } catch (e) {
    if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
    throw e
  }
}

/** An incremental pack continues pages the store must already hold (from an earlier pack). */
async function checkHistory (cas: ContentStore, pack: PackSummary, signal?: AbortSignal): Promise<void> {
  const tail = toCid(pack.continues!)
  let first = true
  try {
    for await (const { page } of walkChain(cas, tail, { fromHead: false, signal })) {
      if (first && page.length !== pack.firstSeq) throw fail('MALFORMED', `page ${pack.continues} does not end where the pack starts (sequence ${pack.firstSeq})`)
      first = false
    }
  } catch (cause) {
    if (isRemoteLogError(cause, 'NOT_FOUND')) throw fail('NOT_FOUND', `this incremental pack continues page ${pack.continues}, whose history is not in the ${cas.backend} store: import the earlier packs first`, { cause })
    throw cause
  }
}
