import { setTimeout as sleep } from 'node:timers/promises'
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import type { ContentStore } from '../core/content-store.js'
import type { Endpoint } from '../core/endpoint.js'
import { isRemoteLogError } from '../core/errors.js'
import { cidOf } from '../core/ids.js'
import type { HeadRecord, OwnerKey } from '../core/name-system.js'
import { decodePage, encodePage, type Entry } from '../core/page.js'
import { walkChain } from '../core/page-chain.js'
import type { NsAdversary } from './adversary.js'
import type { Lie, LyingStore } from './adversary-cas.js'
import type { AttackEvidence, BackendAnswer, GuaranteeOutcome, ReaderEvidence } from './metrics.js'

/** A reader of the attacked log: an endpoint following it under `alias`. */
export interface ProbeReader {
  who: string
  endpoint: Endpoint
  alias: string
  /** Closes a reader the probe opened itself. */
  close?: () => Promise<void>
  /**
   * The same reader in a new process (its state dir reopened), as a user running `remotelog sync`
   * later: a long-lived reader may keep asking the peers it knows and miss a change elsewhere.
   */
  reopen?: () => Promise<ProbeReader>
}

export interface ProbeContext {
  /** The log's CAS, where an attacker puts the pages it needs (it is content-addressed: anyone can). */
  cas: ContentStore
  /** Readers that synced the current head before the probe (for a rollback: readers that saw newer). */
  readers: ProbeReader[]
  /** Opens a reader that never synced the log, following it. */
  freshReader: (who: string) => Promise<ProbeReader>
  /** What the writer published at `seq`: every reader must hold exactly that. */
  expected: (seq: number) => string
  /** How long a reader may take to see a change the backend accepted (Hypercore replicates). Default 5 s. */
  settleMs?: number
}

const decoder = new TextDecoder()
const short = (id: string | undefined): string => id === undefined ? 'nothing' : id.length > 20 ? `${id.slice(0, 12)}…${id.slice(-6)}` : id

function codeOf (e: unknown): string {
  return isRemoteLogError(e) ? e.code : 'INTERNAL'
}

async function cursorOf (r: ProbeReader): Promise<{ length: number, head?: string } | undefined> {
  return (await r.endpoint.following()).find(f => f.alias === r.alias)?.cursor
}

/** Reads a reader's copy back: every message must be the writer's, from 0 on, as many as its cursor says. */
async function readBack (r: ProbeReader, expected: (seq: number) => string, length: number): Promise<{ intact: boolean, forged: boolean }> {
  let seq = 0
  let forged = false
  let ordered = true
  for await (const m of r.endpoint.read(r.alias)) {
    if (m.seq !== seq) ordered = false
    if (!m.tombstone && (m.payload === undefined || decoder.decode(m.payload) !== expected(m.seq))) forged = true
    seq++
  }
  return { intact: ordered && !forged && seq === length, forged }
}

/** Codes that say a reader could not reach the name or the store, not that it refused anything. */
const UNREACHED = new Set(['UNAVAILABLE', 'TIMEOUT', 'NOT_FOUND_NAME'])
/** How long a reader keeps trying to reach a name (a cold Hypercore lookup can miss every peer). */
const REACH_MS = 30_000

/**
 * Syncs a reader after an attack and looks at what it did: its error code, or what it delivered
 * and where its cursor went. When the backend took the attack, a reader that found nothing new
 * syncs again for up to `settleMs` (a replicated change may still be on its way); a reader that
 * could not reach the name (UNAVAILABLE, TIMEOUT, name not found) tries again for up to 30 s and
 * is reported as unreached, never as refusing.
 */
async function examine (reader: ProbeReader, o: { sawNewer: boolean, attackHead?: string, landed: boolean, settleMs: number, expected: (seq: number) => string }): Promise<{ evidence: ReaderEvidence, reader: ProbeReader }> {
  let r = reader
  const before = await cursorOf(r)
  let started = Date.now()
  let delivered = 0
  let syncs = 0
  let reopened = false
  let code: string | undefined
  let error: string | undefined
  for (;;) {
    syncs++
    let unreached: string | undefined
    try {
      const report = await r.endpoint.sync(r.alias)
      delivered += report.delivered
      if (!report.published) {
        unreached = 'NOT_FOUND_NAME'
        error = 'the name was not found'
      } else {
        const now = await cursorOf(r)
        const waited = Date.now() - started >= (o.landed ? o.settleMs : 0)
        if (waited && o.landed && report.delivered === 0 && now?.head === before?.head && !reopened && r.reopen !== undefined) {
          // Still nothing after the wait: the same reader as a new process looks the name up afresh.
          r = await r.reopen()
          reopened = true
          started = Date.now()
          continue
        }
        if (report.delivered > 0 || now?.head !== before?.head || waited) {
          code = undefined
          error = undefined
          break
        }
      }
    } catch (e) {
      const c = codeOf(e)
      error = e instanceof Error ? e.message : String(e)
      if (!UNREACHED.has(c)) {
        code = c
        break
      }
      unreached = c
    }
    if (unreached !== undefined && Date.now() - started >= Math.max(o.settleMs, REACH_MS)) {
      code = unreached
      break
    }
    await sleep(250)
  }
  const after = await cursorOf(r)
  const length = after?.length ?? 0
  const { intact, forged } = await readBack(r, o.expected, length)
  const fooled = forged || (o.attackHead !== undefined && after?.head === o.attackHead)
  const evidence: ReaderEvidence = {
    reader: r.who,
    sawNewer: o.sawNewer,
    ...(code !== undefined ? { code } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(code !== undefined && UNREACHED.has(code) ? { unreached: true } : {}),
    syncs,
    ...(reopened ? { reopened } : {}),
    delivered,
    length,
    ...(after?.head !== undefined ? { head: after.head } : {}),
    fooled,
    intact
  }
  return { evidence, reader: r }
}

/** Reads the backend's head until it differs from `before` (an accepted change may replicate), at most `ms`. */
async function settle (adversary: NsAdversary, before: string | undefined, wait: boolean, ms: number): Promise<string | undefined> {
  const until = Date.now() + (wait ? ms : 0)
  for (;;) {
    const now = await adversary.head().catch(() => before)
    if (now !== before || Date.now() >= until) return now
    await sleep(250)
  }
}

function describeReader (r: ReaderEvidence): string {
  if (r.fooled) return `${r.reader} FOLLOWED IT (${r.delivered} delivered, now at ${short(r.head)})`
  if (!r.intact) return `${r.reader} no longer reads back intact`
  if (r.unreached === true) return `${r.reader} could not reach the name (${r.code ?? '?'}, ${r.syncs} syncs)`
  if (r.code !== undefined) return `${r.reader} refused (${r.code}${r.reopened === true ? ', as a new process' : ''})`
  const again = r.reopened === true ? ', also as a new process' : ''
  return r.delivered > 0 ? `${r.reader} got the writer's log (${r.delivered} delivered)` : `${r.reader} unchanged${r.syncs > 1 ? ` after ${r.syncs} syncs${again}` : ''}`
}

/**
 * The verdict on one attack: NOT HELD when a reader that counts followed it or lost its copy;
 * otherwise `refused by the backend` when the backend said no and its head stayed, else `accepted
 * by the backend, refused by every reader`.
 */
export function judge (e: AttackEvidence, counts: (r: ReaderEvidence) => boolean): GuaranteeOutcome {
  for (const r of e.readers) r.counted = counts(r)
  const counted = e.readers.filter(counts)
  const moved = e.nameAfter !== e.nameBefore
  const accepted = e.backend.accepted || moved
  const backend = `${e.backend.summary}; the name ${moved ? `now points at ${short(e.nameAfter)}${e.nameAfter === e.attackHead ? ' (the attack\'s head)' : ''}` : `still points at ${short(e.nameBefore)}`}${!e.backend.accepted && moved ? ' although the backend answered no' : ''}`
  const readers = e.readers.map(r => counts(r) ? describeReader(r) : `${describeReader(r)} (it never saw newer: nothing can tell it)`).join(', ')
  const how = `${backend}; readers: ${readers}${(e.remarks ?? []).map(line => `; ${line}`).join('')}`
  const evidence = [e]
  if (counted.some(r => r.fooled || !r.intact)) return { held: false, verdict: 'NOT HELD', how, evidence }
  if (!accepted) return { held: true, verdict: 'refused by the backend', how, evidence }
  // The backend took it: only a reader that met the attack and refused it (its error code) shows anything.
  if (counted.some(r => r.unreached === true)) return { held: false, verdict: 'not measured', how: `a reader could not be reached: ${how}`, evidence }
  if (counted.some(r => r.code === undefined)) return { held: false, verdict: 'not measured', how: `a reader never met the attack: ${how}`, evidence }
  return { held: true, verdict: 'accepted by the backend, refused by every reader', how, evidence }
}

/**
 * A head that continues the log at `head` with one forged entry (same log id, tail, sequences; length
 * and revision one up): what another key would install. Its page is put in `cas`.
 */
export async function forgeNextHead (cas: ContentStore, head: CID): Promise<HeadRecord> {
  const page = decodePage(await cas.get(head), `page ${head.toString()}`)
  const payload = new TextEncoder().encode('FORGED: not written by the log\'s owner')
  const seq = page.length!
  const entry: Entry = { seq, localHash: new Uint8Array(createHash('sha256').update(payload).digest()), remoteHash: cidOf(payload), data: payload }
  const revision = page.revision! + 1
  const id = await cas.put(encodePage({ ...page, entries: [...page.entries, entry], length: seq + 1, revision }))
  return { head: id, length: seq + 1, revision }
}

async function attack (ctx: ProbeContext, adversary: NsAdversary, o: {
  what: string
  attackHead: CID
  before: string | undefined
  run: () => Promise<BackendAnswer>
  owner: OwnerKey
  /** Readers opened for this attack that never saw the log; `sawNewer` false. */
  fresh: ProbeReader[]
}): Promise<AttackEvidence> {
  const settleMs = ctx.settleMs ?? 5000
  const attackHead = o.attackHead.toString()
  if (attackHead === o.before) throw new Error(`${o.what}: the attack's head is the current one; it would prove nothing`)
  const backend = await o.run()
  const nameAfter = await settle(adversary, o.before, backend.accepted, settleMs)
  const landed = nameAfter !== o.before || backend.accepted
  const readers: ReaderEvidence[] = []
  for (const [i, r] of ctx.readers.entries()) {
    const seen = await examine(r, { sawNewer: true, attackHead, landed, settleMs, expected: ctx.expected })
    ctx.readers[i] = seen.reader
    readers.push(seen.evidence)
  }
  for (const r of o.fresh) readers.push((await examine(r, { sawNewer: false, attackHead, landed, settleMs, expected: ctx.expected })).evidence)
  const remarks = await adversary.finish?.() ?? []
  if (landed) await adversary.restore(o.owner)
  return { attack: o.what, backend, nameBefore: o.before, nameAfter, attackHead, readers, ...(remarks.length > 0 ? { remarks } : {}) }
}

/**
 * Owner-only writes: another key moves the name, straight at the backend, to a head that continues
 * the log with a forged entry. Every reader counts, a new one too.
 */
export async function probeForeignWrite (ctx: ProbeContext, adversary: NsAdversary, owner: OwnerKey): Promise<GuaranteeOutcome> {
  const before = await adversary.head()
  if (before === undefined) throw new Error('the name holds no head to attack')
  const forged = await forgeNextHead(ctx.cas, CID.parse(before))
  const fresh = await ctx.freshReader('a new reader')
  try {
    const e = await attack(ctx, adversary, {
      what: 'another key moves the name to a forged head continuing the log',
      attackHead: forged.head,
      before,
      run: async () => await adversary.foreignWrite(forged),
      owner,
      fresh: [fresh]
    })
    return judge(e, () => true)
  } finally {
    await fresh.close?.()
  }
}

/**
 * Rollback: the owner puts its first head back, straight at the backend (its page put back in the
 * CAS first: the writer released it). Readers that saw newer count; a new reader is shown but
 * cannot know better.
 */
export async function probeRollback (ctx: ProbeContext, adversary: NsAdversary, owner: OwnerKey, first: { record: HeadRecord, page: Uint8Array }): Promise<GuaranteeOutcome> {
  await ctx.cas.put(first.page)
  const before = await adversary.head()
  const fresh = await ctx.freshReader('a new reader')
  try {
    const e = await attack(ctx, adversary, {
      what: `the owner puts its first head back (revision ${first.record.revision})`,
      attackHead: first.record.head,
      before,
      run: async () => await adversary.rollback(first.record, owner),
      owner,
      fresh: [fresh]
    })
    return judge(e, r => r.sawNewer)
  } finally {
    await fresh.close?.()
  }
}

/** A reader whose store lies on demand (see `lyingStore`), for `probeStoreLies`. */
export interface LiarReader {
  endpoint: Endpoint
  store: LyingStore
  close: () => Promise<void>
}

/**
 * A lying store, in front of a reader that never synced the log: altered page bytes, an altered
 * payload (pointer mode), a withheld page, another log's page in place of one of ours. Each time
 * the reader must fail with a typed error, hold only verified messages, and — the store honest
 * again — complete the log, each message once.
 */
export async function probeStoreLies (ctx: ProbeContext, liar: LiarReader, log: { address: string, head: CID, length: number }): Promise<GuaranteeOutcome> {
  const pages: Array<{ id: CID, entries: Entry[], bytes: Uint8Array }> = []
  for await (const { id, page, bytes } of walkChain(ctx.cas, log.head)) pages.push({ id, entries: page.entries, bytes })
  const oldest = pages.at(-1)!
  const otherLog = decodePage(oldest.bytes)
  const foreignPage = encodePage({ ...otherLog, logId: new Uint8Array(createHash('sha256').update('another log').digest().subarray(0, 16)) })
  const payload = pages.flatMap(p => p.entries).sort((a, b) => a.seq - b.seq).find(e => e.remoteHash !== undefined && e.seq >= Math.floor(log.length / 2))
  const lies: Array<{ what: string, lie: Lie }> = [
    { what: `altered bytes of page ${short(oldest.id.toString())}`, lie: { kind: 'alter', id: oldest.id } },
    ...(payload !== undefined ? [{ what: `altered bytes of the payload of entry ${payload.seq}`, lie: { kind: 'alter', id: payload.remoteHash! } as Lie }] : []),
    { what: `page ${short(oldest.id.toString())} withheld`, lie: { kind: 'withhold', id: oldest.id } },
    { what: `another log's page served for page ${short(oldest.id.toString())}`, lie: { kind: 'substitute', id: oldest.id, bytes: foreignPage } }
  ]
  // An honest sync first, under another alias: the reader's name lookups are then warm, so each
  // lie below tests the store alone.
  await liar.endpoint.follow(log.address, 'honest')
  const { evidence: warm } = await examine({ who: 'warm-up', endpoint: liar.endpoint, alias: 'honest' }, { sawNewer: false, landed: false, settleMs: 0, expected: ctx.expected })
  if (warm.code !== undefined || warm.length !== log.length) throw new Error(`the lying store's reader could not sync the log with the store honest: ${warm.error ?? `${warm.length} of ${log.length} messages`}`)
  const evidence: AttackEvidence[] = []
  let broken = false
  for (const [i, { what, lie }] of lies.entries()) {
    const reader: ProbeReader = { who: 'a new reader', endpoint: liar.endpoint, alias: `lie-${i + 1}` }
    await liar.endpoint.follow(log.address, reader.alias)
    liar.store.lie = lie
    const told = liar.store.told
    const { evidence: lying } = await examine(reader, { sawNewer: false, landed: false, settleMs: 0, expected: ctx.expected })
    const served = liar.store.told - told
    liar.store.lie = undefined
    const { evidence: honest } = await examine({ ...reader, who: 'it again, store honest' }, { sawNewer: false, landed: false, settleMs: 0, expected: ctx.expected })
    const refused = lying.code !== undefined && lying.unreached !== true && !lying.fooled && lying.intact
    const recovered = honest.code === undefined && honest.intact && honest.length === log.length && lying.delivered + honest.delivered === log.length
    if (!refused || !recovered || served === 0) broken = true
    evidence.push({
      attack: what,
      backend: { accepted: true, short: 'served', summary: `the store served it ${served} time(s)` },
      readers: [lying, honest]
    })
  }
  const how = evidence.map(e => {
    const [lying, honest] = e.readers
    const outcome = lying.code !== undefined ? `refused (${lying.code}) after ${lying.delivered} verified message(s)` : `NOT refused (${lying.delivered} delivered)`
    return `${e.attack}: ${outcome}; honest store: ${honest.code ?? `${honest.delivered} more, log complete (${honest.length})`}`
  }).join('; ')
  return broken
    ? { held: false, verdict: 'NOT HELD', how, evidence }
    : { held: true, verdict: 'accepted by the backend, refused by every reader', how: `a lying store is caught by every reader: ${how}`, evidence }
}
