import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { formatAddress, parseAddress } from './address.js'
import { readJson, writeJson } from './atomic-json.js'
import type { ContentStore } from './content-store.js'
import { replaceFile, type Durability } from './durable-file.js'
import { Endpoint } from './endpoint.js'
import { encodeEntries, salvageEntries, type StoredEntry } from './entry-file.js'
import { isRemoteLogError } from './errors.js'
import { checkAlias, type FollowRecord } from './follow-store.js'
import { withFileLock } from './file-lock.js'
import { toCid } from './ids.js'
import type { NameSystem, ResolvedHead } from './name-system.js'
import { equalBytes } from './page.js'
import { walkChain, type ChainPage } from './page-chain.js'
import type { WriterState } from './writer-storage.js'

/** One thing wrong in a state dir: where (a file, or a page in the store), at which byte, what, and what to do. */
export interface Problem {
  /** The file (path in the state dir) or store object (`page <cid>`) the problem is in. */
  file: string
  /** Byte offset in `file`, for a damaged record. */
  offset?: number
  /** What is wrong. */
  problem: string
  /** What to do about it, when `--repair` cannot (or was not asked to). */
  fix?: string
  /** True when this run repaired it. */
  repaired?: boolean
}

/** What fsck found and repaired, and what it checked. */
export interface FsckReport {
  /** Everything found; those with `repaired` are fixed. */
  problems: Problem[]
  /** What the repair did, one line each. */
  repaired: string[]
  checked: { logs: number, follows: number, records: number, pages: number, payloads: number }
}

/** What fsck needs of an endpoint that is not opened as one: its state dir and backends. */
export interface FsckTarget {
  dir: string
  cas: ContentStore
  ns: NameSystem
  /** The config's `name` (labels of own logs' names where names are claimed). */
  name?: string
  durability?: Durability
}

/** Whether fsck repairs what it can. */
export interface FsckOptions {
  /** Rewrite damaged journals and messages files keeping every intact record (see `fsck`). */
  repair?: boolean
  signal?: AbortSignal
}

/** The problems a report leaves unrepaired. */
export function remainingProblems (report: FsckReport): Problem[] {
  return report.problems.filter(p => p.repaired !== true)
}

const LOG_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const HEX_KEY = /^[0-9a-f]{64}$/
/** Entries per batch when a messages file is rewritten (as a sync writes them). */
const BATCH = 512

interface Context {
  dir: string
  endpoint: Endpoint
  durability: Durability
  repair: boolean
  signal?: AbortSignal
  report: FsckReport
}

function reason (e: unknown): string {
  const message = e instanceof Error ? e.message : String(e)
  return message.replace(/^\[remotelog\] (\[[^\]]+\] )?([A-Z_]+: )?/, '').split('\n')[0]
}

/** What is wrong with a JSON state file `readJson` could not read. */
function unreadable (e: unknown): string {
  const cause = (e as { cause?: unknown }).cause
  return isRemoteLogError(e, 'MALFORMED') && cause instanceof Error ? `not valid JSON (${cause.message})` : reason(e)
}

function isCount (n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function isCid (s: unknown): boolean {
  if (typeof s !== 'string') return false
  try {
    toCid(s)
    return true
  } catch {
    return false
  }
}

async function readBytes (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
}

async function subdirs (path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter(d => d.isDirectory()).map(d => d.name).sort()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
}

/** `[a, a+1, …]` runs of `from → to` renumberings, e.g. `2–4 → 1–3`. */
function describeMoves (moves: Array<[number, number]>): string {
  const runs: string[] = []
  for (let i = 0; i < moves.length;) {
    let j = i
    while (j + 1 < moves.length && moves[j + 1][0] === moves[j][0] + 1 && moves[j + 1][1] === moves[j][1] + 1) j++
    runs.push(i === j ? `${moves[i][0]} → ${moves[i][1]}` : `${moves[i][0]}–${moves[j][0]} → ${moves[i][1]}–${moves[j][1]}`)
    i = j + 1
  }
  return runs.join(', ')
}

/** Where sequence numbers of `entries` (in file order) leave `expected + i`: one line per break. */
function gaps (entries: readonly StoredEntry[], first: number): string[] {
  const out: string[] = []
  let expected = first
  for (const e of entries) {
    if (e.seq !== expected) out.push(e.seq > expected ? `sequence${e.seq - expected > 1 ? 's' : ''} ${expected}${e.seq - expected > 1 ? `–${e.seq - 1}` : ''} missing (the next intact record is seq ${e.seq})` : `seq ${e.seq} where ${expected} was expected`)
    expected = e.seq + 1
  }
  return out
}

/**
 * Checks a state dir the way `git fsck` / `restic check` check theirs, and with `repair` fixes
 * what can be fixed without losing an intact record:
 *
 * - `keys.json` parses and holds well-formed keys;
 * - each own log's `state.json` parses with sane fields; every record of its `journal` is intact
 *   (each damaged record is reported with its offset, and a torn tail), its sequence numbers
 *   run on from the published length without a gap; the chain from the head walks through the
 *   store with every check (`walkChain`), payloads are there, the head page agrees with the
 *   state; the name resolves to the state's head (or a recorded publish intent's) — a name
 *   that moved elsewhere is another writer with the key (`remotelog publish --rebase`);
 * - each followed log's `follow.json` parses, every record of its `messages` file is intact, the
 *   sequences run from 0 without a gap, the cursor's length is the last seq + 1 and `fileBytes`
 *   the file's size.
 *
 * Repair, under the same cross-process locks as the writer (`locks/log-<log>.lock`) and sync
 * (`locks/follow-<alias>.lock`): a journal is rewritten with every intact unpublished entry,
 * renumbered contiguously from the published length; a messages file keeps the run of intact
 * entries from seq 0 and the cursor is set to its length (head dropped), so the next sync
 * fetches the rest again. Damaged `keys.json`, `state.json`, `follow.json` and pages missing
 * from the store cannot be repaired here: each such problem says what to do.
 * @example
 * const report = await fsck(endpoint, { repair: true })
 * for (const p of remainingProblems(report)) console.error(`${p.file}: ${p.problem}`)
 */
export async function fsck (target: Endpoint | FsckTarget, options: FsckOptions = {}): Promise<FsckReport> {
  const endpoint = target instanceof Endpoint ? target : await Endpoint.open({ dir: target.dir, cas: target.cas, ns: target.ns, name: target.name, durability: target.durability })
  const ctx: Context = {
    dir: endpoint.options.dir,
    endpoint,
    durability: endpoint.options.durability ?? 'fsync',
    repair: options.repair === true,
    signal: options.signal,
    report: { problems: [], repaired: [], checked: { logs: 0, follows: 0, records: 0, pages: 0, payloads: 0 } }
  }
  const keys = await checkKeys(ctx)
  const logs = new Set([...(keys ?? []), ...(await subdirs(join(ctx.dir, 'logs')))])
  for (const log of [...logs].sort()) {
    options.signal?.throwIfAborted()
    if (!LOG_NAME.test(log)) {
      ctx.report.problems.push({ file: join(ctx.dir, 'logs', log), problem: 'not a log name: this folder is not used', fix: 'remove it' })
      continue
    }
    await checkLog(ctx, log, keys === undefined ? 'unknown' : keys.includes(log))
  }
  for (const alias of await subdirs(join(ctx.dir, 'follows'))) {
    options.signal?.throwIfAborted()
    await checkFollow(ctx, alias)
  }
  return ctx.report
}

/** The own logs keys.json names, or undefined when it cannot be read. */
async function checkKeys (ctx: Context): Promise<string[] | undefined> {
  const path = join(ctx.dir, 'keys.json')
  const fix = 'keys cannot be rebuilt: restore keys.json from a backup (without a log\'s key, its name cannot be moved again)'
  let file: unknown
  try {
    file = await readJson(path)
  } catch (e) {
    ctx.report.problems.push({ file: path, problem: unreadable(e), fix })
    return undefined
  }
  if (file === undefined) return []
  const logs = (file as { logs?: unknown }).logs
  if (typeof file !== 'object' || file === null || typeof logs !== 'object' || logs === null || Array.isArray(logs)) {
    ctx.report.problems.push({ file: path, problem: 'not a key file ({"logs": {NAME: HEX}})', fix })
    return undefined
  }
  const good: string[] = []
  for (const [log, hex] of Object.entries(logs)) {
    if (!LOG_NAME.test(log)) ctx.report.problems.push({ file: path, problem: `"${log}" is not a log name`, fix })
    else if (typeof hex !== 'string' || !HEX_KEY.test(hex)) ctx.report.problems.push({ file: path, problem: `the key of log "${log}" is not 64 hex digits`, fix })
    else good.push(log)
  }
  return good
}

/** Problems with a state.json's fields (empty when sane). */
function stateProblems (s: unknown): string[] {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return ['not a writer state object']
  const state = s as Partial<Record<keyof WriterState, unknown>>
  const out: string[] = []
  if (!isCount(state.revision)) out.push('"revision" is not a non-negative integer')
  if (!isCount(state.length)) out.push('"length" is not a non-negative integer')
  if (state.head !== undefined && !isCid(state.head)) out.push('"head" is not a CID')
  if (isCount(state.length) && state.length > 0 && state.head === undefined) out.push(`"length" is ${state.length} but there is no "head"`)
  if (!Array.isArray(state.scrubbed) || !state.scrubbed.every(isCount)) out.push('"scrubbed" is not a list of sequence numbers')
  else if (isCount(state.length) && state.scrubbed.some((n, i) => n >= (state.length as number) || (i > 0 && n <= (state.scrubbed as number[])[i - 1]))) out.push('"scrubbed" is not sorted, unique and below "length"')
  if (state.logId !== undefined && (typeof state.logId !== 'string' || !/^[0-9a-f]{32}$/.test(state.logId))) out.push('"logId" is not 32 hex digits')
  if (state.payloads !== undefined && typeof state.payloads !== 'boolean') out.push('"payloads" is not true or false')
  if (state.intent !== undefined) {
    const intent = state.intent as Record<string, unknown> | null
    if (typeof intent !== 'object' || intent === null || !isCid(intent.head) || !isCount(intent.length) || !isCount(intent.revision)) out.push('"intent" is not {head, length, revision}')
    else if (isCount(state.length) && isCount(state.revision) && (intent.length < state.length || intent.revision <= state.revision)) out.push(`"intent" (length ${intent.length}, revision ${intent.revision}) is not ahead of the state (length ${state.length}, revision ${state.revision})`)
  }
  return out
}

async function checkLog (ctx: Context, log: string, keyed: boolean | 'unknown'): Promise<void> {
  const dir = join(ctx.dir, 'logs', log)
  const statePath = join(dir, 'state.json')
  const journalPath = join(dir, 'journal')
  const { report, endpoint } = ctx
  const problems = report.problems
  report.checked.logs++
  await withFileLock(join(ctx.dir, 'locks', `log-${log}.lock`), async () => {
    // state.json
    let state: WriterState | undefined
    let stateOk = true
    if (keyed === false) {
      problems.push({ file: join(ctx.dir, 'keys.json'), problem: `no key for log "${log}" (${dir} has its state): it cannot be published`, fix: 'restore keys.json from a backup, or remove the log\'s folder if it is not needed' })
    }
    // The log's address, from its key (asked of the name system only when needed: ENS claims names on first use).
    let address: string | undefined
    const addressOf = async (): Promise<string | undefined> => {
      if (keyed !== true) return undefined
      address ??= formatAddress({ scheme: endpoint.ns.scheme, name: await endpoint.ns.nameOf(await endpoint.owner(log), { signal: ctx.signal }) })
      return address
    }
    const rebuild = async (): Promise<string> => `move ${dir} aside, then \`remotelog export ${await addressOf().catch(() => undefined) ?? 'ADDRESS'} --out ${log}.car && remotelog import ${log}.car --restore ${log}\` rebuilds it from the published log (append the moved journal's unpublished messages again)`
    try {
      state = await readJson<WriterState>(statePath)
    } catch (e) {
      problems.push({ file: statePath, problem: unreadable(e), fix: await rebuild() })
      stateOk = false
    }
    const wrong = state === undefined ? [] : stateProblems(state)
    if (wrong.length > 0) {
      const fix = await rebuild()
      for (const p of wrong) problems.push({ file: statePath, problem: p, fix })
      stateOk = false
      state = undefined
    }
    const current: WriterState = state ?? { revision: 0, length: 0, scrubbed: [] }

    // journal
    const bytes = await readBytes(journalPath)
    const salvage = salvageEntries(bytes ?? new Uint8Array(0))
    report.checked.records += salvage.entries.length + salvage.bad.length
    const journalProblems: Problem[] = []
    for (const bad of salvage.bad) journalProblems.push({ file: journalPath, offset: bad.offset, problem: `the record at byte ${bad.offset} is corrupt (${bad.reason})` })
    if (salvage.torn > 0) journalProblems.push({ file: journalPath, offset: (bytes?.length ?? 0) - salvage.torn, problem: `a torn tail of ${salvage.torn} bytes (an append a crash cut short, never acknowledged)` })
    const unpublished = salvage.entries.filter(e => e.seq >= current.length)
    if (stateOk) for (const gap of gaps(unpublished, current.length)) journalProblems.push({ file: journalPath, problem: `${gap} after the published length ${current.length}` })
    problems.push(...journalProblems)

    // the name
    let resolved: ResolvedHead | undefined
    let nsKnown = false
    let moved = false
    if (stateOk && keyed === true && (state?.head !== undefined || state?.intent !== undefined)) {
      let where = `the name of log "${log}"`
      try {
        where = (await addressOf())!
        resolved = await endpoint.ns.resolve(parseAddress(where).name, { signal: ctx.signal })
        nsKnown = true
      } catch (e) {
        if (isRemoteLogError(e, 'NOT_FOUND')) nsKnown = true
        // Nothing published yet and a first publish's intent recorded: the name moves with the next publish.
        if (!isRemoteLogError(e, 'NOT_FOUND') || state?.head !== undefined) problems.push({
          file: where,
          problem: isRemoteLogError(e, 'NOT_FOUND') ? `the name does not resolve, yet ${statePath} says it was published (head ${state?.head ?? state?.intent?.head})` : `cannot resolve the name: ${reason(e)}`,
          fix: isRemoteLogError(e, 'NOT_FOUND') ? 'check the configured name system: is it the one this log was published in?' : 'run fsck again when the name system is reachable'
        })
      }
      const at = resolved?.head.toString()
      moved = resolved !== undefined && at !== state?.head && at !== state?.intent?.head
      if (moved) {
        problems.push({
          file: where,
          problem: `the name points at head ${at} (revision ${resolved?.revision ?? '?'}), not this state dir's head ${state?.head ?? '(none)'} (revision ${current.revision}): another writer with this log's key published`,
          fix: `run \`remotelog publish --rebase --log ${log}\` to publish this state dir's pending messages after it`
        })
      } else if (resolved !== undefined && at === state?.head && resolved.length !== undefined && resolved.length !== current.length) {
        problems.push({ file: where, problem: `the name says length ${resolved.length}, ${statePath} says ${current.length}` })
      }
    }

    // the chain
    // The chain. When another writer moved the name, its publish released the head page this
    // state dir knows: the log to check is the one the name points at now (a rebase builds on it).
    if (moved) await checkChain(ctx, resolved!.head, undefined, `the name ${address!}`)
    else if (stateOk && state?.head !== undefined) await checkChain(ctx, toCid(state.head), state, statePath)
    if (!moved && stateOk && state?.intent !== undefined) await checkChain(ctx, toCid(state.intent.head), { ...state, ...state.intent }, statePath, state.length)

    // repair the journal
    if (!ctx.repair || journalProblems.length === 0) return
    if (!stateOk) {
      for (const p of journalProblems) p.fix = `not repaired: ${statePath} must be sound first (it says where the unpublished messages start)`
      return
    }
    let base = current.length
    let dropIntent = false
    if (state?.intent !== undefined) {
      if (resolved?.head.toString() === state.intent.head) {
        base = state.intent.length // the interrupted publish went out: its messages are in the store
      } else if (nsKnown) {
        dropIntent = true // never published: its messages are all still in the journal
      } else {
        for (const p of journalProblems) p.fix = 'not repaired: the name system could not tell whether the interrupted publish went out; run `remotelog fsck --repair` again when it is reachable'
        return
      }
    }
    const keep = salvage.entries.filter(e => e.seq >= base)
    const moves: Array<[number, number]> = []
    const renumbered = keep.map((e, i) => {
      if (e.seq !== base + i) moves.push([e.seq, base + i])
      return { ...e, seq: base + i }
    })
    if (dropIntent) {
      const { intent: _dropped, ...rest } = state!
      await writeJson(statePath, rest, { durability: ctx.durability })
      report.repaired.push(`${statePath}: dropped the unfinished publish of revision ${state!.intent!.revision} (the name never moved): its messages go out from the journal with the next publish`)
    }
    await replaceFile(journalPath, encodeEntries(renumbered), { durability: ctx.durability })
    for (const p of journalProblems) p.repaired = true
    report.repaired.push(`${journalPath}: kept ${renumbered.length} intact unpublished message(s)${moves.length > 0 ? `, renumbered seq ${describeMoves(moves)}` : ''}${renumbered.length > 0 ? ` (seqs ${base}–${base + renumbered.length - 1}); \`remotelog publish --log ${log}\` publishes them` : ''}`)
  })
}

/**
 * Walks an own log's chain from `head` (down to the page holding `from`), checking pages and
 * payloads, and the head page against `expect` (the state) when given. `source` names who points at `head`.
 */
async function checkChain (ctx: Context, head: CID, expect: { length: number, revision: number, logId?: string, scrubbed: number[] } | undefined, source: string, from = 0): Promise<void> {
  const { report } = ctx
  const cas = ctx.endpoint.cas
  const what = from > 0 ? 'the unfinished publish\'s head' : 'the head'
  let last: ChainPage | undefined
  try {
    for await (const current of walkChain(cas, head, { from, signal: ctx.signal })) {
      report.checked.pages++
      if (last === undefined && expect !== undefined) {
        const page = current.page
        const id = head.toString()
        if (page.length !== expect.length) report.problems.push({ file: `page ${id}`, problem: `${what} page says length ${page.length}, ${source} says ${expect.length}` })
        if (page.revision !== expect.revision) report.problems.push({ file: `page ${id}`, problem: `${what} page says revision ${page.revision}, ${source} says ${expect.revision}` })
        if (expect.logId !== undefined && (page.logId === undefined || !equalBytes(page.logId, Buffer.from(expect.logId, 'hex')))) report.problems.push({ file: `page ${id}`, problem: `${what} page belongs to another log than ${source} (log id)` })
        if (from === 0 && page.scrubbed.join(',') !== expect.scrubbed.join(',')) report.problems.push({ file: `page ${id}`, problem: `${what} page's scrubbed list differs from ${source}'s` })
      }
      last = current
      for (const entry of current.page.entries) {
        if (entry.tombstone === true || entry.data !== undefined || entry.remoteHash === undefined || entry.seq < from) continue
        report.checked.payloads++
        if (!await cas.has(entry.remoteHash, { signal: ctx.signal })) {
          report.problems.push({ file: `payload ${entry.remoteHash.toString()}`, problem: `the payload of seq ${entry.seq} is missing from the ${cas.backend} store`, fix: 'import a backup pack of this log (`remotelog import backup.car`), or scrub the entry (`remotelog scrub SEQ`)' })
        }
      }
    }
  } catch (e) {
    if (ctx.signal?.aborted === true) throw e
    const failing = last === undefined ? head : last.page.tail
    const damaged = isRemoteLogError(e, 'NOT_FOUND') || isRemoteLogError(e, 'INTEGRITY') || isRemoteLogError(e, 'MALFORMED')
    const state = isRemoteLogError(e, 'NOT_FOUND') ? `missing from the ${cas.backend} store` : damaged ? 'corrupt' : 'cannot be read'
    report.problems.push({
      file: `page ${(failing ?? head).toString()}`,
      problem: `${state}${last !== undefined ? ` (the tail of page ${last.id.toString()}, before seq ${last.page.firstSeq})` : ` (${what} of ${source})`}: ${reason(e)}`,
      fix: damaged ? 'the store lost or damaged this log\'s pages: import a backup pack of this log (`remotelog import backup.car`); fsck cannot rebuild pages' : 'run fsck again when the store is reachable'
    })
  }
}

/** Problems with a follow.json's fields (empty when sane). */
function followProblems (r: unknown, alias: string): string[] {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return ['not a followed log\'s record']
  const record = r as Partial<Record<keyof FollowRecord, unknown>>
  const out: string[] = []
  if (record.alias !== alias) out.push(`"alias" is ${JSON.stringify(record.alias)}, not the folder's name "${alias}"`)
  if (typeof record.address !== 'string') out.push('"address" is missing')
  else {
    try {
      parseAddress(record.address)
    } catch {
      out.push(`"address" is not a log address: ${record.address}`)
    }
  }
  if (!isCount(record.fileBytes)) out.push('"fileBytes" is not a non-negative integer')
  const cursor = record.cursor as Record<string, unknown> | undefined
  if (typeof cursor !== 'object' || cursor === null) out.push('"cursor" is missing')
  else {
    if (!isCount(cursor.length)) out.push('"cursor.length" is not a non-negative integer')
    if (cursor.head !== undefined && !isCid(cursor.head)) out.push('"cursor.head" is not a CID')
    if (cursor.revision !== undefined && !isCount(cursor.revision)) out.push('"cursor.revision" is not a non-negative integer')
    if (cursor.scrubbed !== undefined && (!Array.isArray(cursor.scrubbed) || !cursor.scrubbed.every(isCount))) out.push('"cursor.scrubbed" is not a list of sequence numbers')
  }
  return out
}

async function checkFollow (ctx: Context, alias: string): Promise<void> {
  const { report } = ctx
  const dir = join(ctx.dir, 'follows', alias)
  const recordPath = join(dir, 'follow.json')
  const messagesPath = join(dir, 'messages')
  try {
    checkAlias(alias)
  } catch {
    report.problems.push({ file: dir, problem: 'not an alias: this folder is not used', fix: 'remove it' })
    return
  }
  report.checked.follows++
  await withFileLock(join(ctx.dir, 'locks', `follow-${alias}.lock`), async () => {
    const refollow = `remove ${dir} and follow the log again (\`remotelog follow ADDRESS --as ${alias}\`): the next sync fetches everything`
    let record: FollowRecord | undefined
    try {
      record = await readJson<FollowRecord>(recordPath)
      if (record === undefined) {
        report.problems.push({ file: recordPath, problem: 'missing: this followed log has no cursor', fix: refollow })
        return
      }
      const wrong = followProblems(record, alias)
      if (wrong.length > 0) {
        for (const p of wrong) report.problems.push({ file: recordPath, problem: p, fix: refollow })
        record = undefined
      }
    } catch (e) {
      report.problems.push({ file: recordPath, problem: unreadable(e), fix: refollow })
    }

    const bytes = await readBytes(messagesPath)
    const size = bytes?.length ?? 0
    const salvage = salvageEntries(bytes ?? new Uint8Array(0))
    report.checked.records += salvage.entries.length + salvage.bad.length
    const found: Problem[] = []
    for (const bad of salvage.bad) found.push({ file: messagesPath, offset: bad.offset, problem: `the record at byte ${bad.offset} is corrupt (${bad.reason})` })
    if (salvage.torn > 0) found.push({ file: messagesPath, offset: size - salvage.torn, problem: `a torn tail of ${salvage.torn} bytes (a delivery a crash cut short)` })
    let run = 0
    while (run < salvage.entries.length && salvage.entries[run].seq === run) run++
    for (const gap of gaps(salvage.entries, 0)) found.push({ file: messagesPath, problem: gap })
    if (record !== undefined) {
      const last = salvage.entries.at(-1)
      const length = last === undefined ? 0 : last.seq + 1
      if (record.cursor.length !== length) found.push({ file: recordPath, problem: `the cursor says ${record.cursor.length} message(s) delivered, ${messagesPath} ends at seq ${length - 1}` })
      if (record.fileBytes !== size) found.push({ file: recordPath, problem: `"fileBytes" is ${record.fileBytes}, ${messagesPath} has ${size} bytes` })
    }
    report.problems.push(...found)
    if (!ctx.repair || found.length === 0) return
    if (record === undefined) {
      for (const p of found) p.fix = `not repaired: ${recordPath} must be sound first; ${refollow}`
      return
    }
    const keep = salvage.entries.slice(0, run)
    const rewrite = keep.length !== salvage.entries.length || salvage.bad.length > 0 || salvage.torn > 0
    if (rewrite) {
      const batches: Buffer[] = []
      for (let i = 0; i < keep.length; i += BATCH) batches.push(encodeEntries(keep.slice(i, i + BATCH)))
      await replaceFile(messagesPath, Buffer.concat(batches), { durability: ctx.durability })
    }
    const fileBytes = (await stat(messagesPath).catch(() => undefined))?.size ?? 0
    const before = record.cursor.length
    const scrubbed = (record.cursor.scrubbed ?? []).filter(s => s < run)
    const cursor = run === before ? record.cursor : { length: run, ...(scrubbed.length > 0 ? { scrubbed } : {}) }
    await writeJson(recordPath, { ...record, cursor, fileBytes }, { durability: ctx.durability })
    for (const p of found) p.repaired = true
    const refetch = before > run ? `; the next sync fetches seq ${run}–${before - 1} again (${before - run} message(s))` : run !== before ? `; the next sync goes on from seq ${run}` : ''
    report.repaired.push(`${messagesPath}: kept the ${run} intact message(s) from seq 0${rewrite ? ` (dropped ${salvage.entries.length - run} after a gap, ${salvage.bad.length} corrupt record(s)${salvage.torn > 0 ? `, a torn tail of ${salvage.torn} bytes` : ''})` : ''}, cursor set to ${run}${refetch}`)
  })
}
