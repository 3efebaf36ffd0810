import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import { initConfig } from '../config/presets.js'
import type { Config } from '../config/config.js'
import { parseAddress } from '../core/address.js'
import type { ContentStore } from '../core/content-store.js'
import type { Endpoint, SyncReport } from '../core/endpoint.js'
import { fail, isRemoteLogError } from '../core/errors.js'
import type { LogMode } from '../core/log-options.js'
import type { HeadRecord } from '../core/name-system.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { openActor, type Actor } from './actor.js'
import { adversaryFor, type NsAdversary } from './adversary.js'
import { lyingStore, type LyingStore } from './adversary-cas.js'
import { catchUp } from './catch-up.js'
import type { BackendResult, GuaranteeKey, GuaranteeOutcome } from './metrics.js'
import { copyLocalStore, runWriterProcess } from './offline-writer.js'
import { probeForeignWrite, probeRollback, probeStoreLies, type ProbeContext, type ProbeReader } from './probe.js'
import { mean, quantile, round } from './stats.js'

export interface ScenarioOptions {
  devnet: DevnetSettings
  ns: string
  cas: string
  /** Messages the writer publishes in all. */
  messages: number
  /** Messages per publish. */
  batch: number
  mode: LogMode
  pageEntries: number
  /** Size of each message in bytes (at least a few, for the sequence number). */
  messageBytes: number
  /** How many times a reader resolves the name for the resolve latency figures. */
  resolves: number
  /** Points of the catch-up-vs-N curve (the last is N itself). Default 4. */
  catchUpPoints?: number
  /** Folder for the actors' state dirs. */
  root: string
  /** Bound on waiting for the live follower to deliver everything. Default 30 s. */
  timeoutMs?: number
  log?: (line: string) => void
}

const decoder = new TextDecoder()

/**
 * The payload of message `seq`: its number, padded to the message size.
 * @example messageText(7, 8) // 'm7 xxxxx'
 */
export function messageText (seq: number, bytes: number): string {
  const head = `m${seq} `
  return head + 'x'.repeat(Math.max(0, bytes - head.length))
}

/** Reads a followed log back and says what is wrong with it, if anything (order, gaps, bytes). */
async function checkLog (endpoint: Endpoint, alias: string, length: number, bytes: number): Promise<string | undefined> {
  let seq = 0
  for await (const m of endpoint.read(alias)) {
    if (m.seq !== seq) return `${alias}: expected sequence ${seq}, got ${m.seq}`
    if (m.payload === undefined || decoder.decode(m.payload) !== messageText(seq, bytes)) return `${alias}: payload of ${seq} is not what was published`
    seq++
  }
  return seq === length ? undefined : `${alias}: ${seq} messages, expected ${length}`
}

function codeOf (e: unknown): string {
  return isRemoteLogError(e) ? e.code : 'INTERNAL'
}

/**
 * Syncs until the reader holds `length` messages (a replicated publish may take a moment to reach
 * it), for at most `timeoutMs`; returns the length it reached.
 */
async function syncUntil (endpoint: Endpoint, alias: string, length: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const report = await endpoint.sync(alias)
    if (report.length >= length || Date.now() >= deadline) return report.length
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/**
 * Runs the comparison scenario on one NS + CAS combination of a running devnet: a writer publishes
 * `messages` in batches while a live follower tracks it; readers that were offline catch up (one
 * half-way and again at the end, one only at the end, and fresh ones at points of the catch-up
 * curve); the writer publishes one last message from a process of its own, which exits, and a new
 * reader still catches up (on a copy of a local store); then raw adversaries that bypass remotelog's
 * client attack the guarantees (a lying store, another key's write, the owner's rollback) and every
 * reader is checked after each (see probe.ts). Never throws: a failure is `ok: false`.
 * @example
 * const result = await runScenario({ devnet, ns: 'ens', cas: 'local', messages: 200, batch: 20, mode: 'pointer', pageEntries: 64, messageBytes: 100, resolves: 20, root })
 */
export async function runScenario (o: ScenarioOptions): Promise<BackendResult> {
  const started = performance.now()
  const result: BackendResult = {
    id: `${o.ns}+${o.cas}`,
    ns: o.ns,
    cas: o.cas,
    ok: false,
    metrics: {},
    samples: { publishMs: [], resolveMs: [], followerMs: [] },
    catchUp: [],
    guarantees: {},
    details: {},
    durationMs: 0
  }
  const log = (line: string): void => o.log?.(`[${result.id}] ${line}`)
  const tag = randomBytes(3).toString('hex')
  const config = (who: string): Config => ({
    ...initConfig({ stateDir: join(o.root, who), store: join(o.root, 'store'), cas: o.cas, ns: o.ns, devnet: o.devnet, name: `${who}-${tag}` }),
    log: { mode: o.mode, pageEntries: o.pageEntries }
  })
  const actors: Actor[] = []
  const open = async (who: string, options: { config?: Config, wrapCas?: (cas: ContentStore) => ContentStore } = {}): Promise<Actor> => {
    const actor = await openActor(join(o.root, who), options.config ?? config(who), options)
    actors.push(actor)
    return actor
  }
  const closeActor = async (actor: Actor): Promise<void> => {
    actors.splice(actors.indexOf(actor), 1)
    await actor.close()
  }
  const reopenAs = (who: string) => async (actor: Actor): Promise<Actor> => {
    await closeActor(actor)
    return await open(who)
  }
  const stopFollowing = new AbortController()
  // Every payload fetch of the follower's syncs listens on this signal (up to `concurrency` at once).
  setMaxListeners(256, stopFollowing.signal)
  let following: Promise<void> | undefined
  const timeoutMs = o.timeoutMs ?? 30_000
  const problems: string[] = []
  const retries = { count: 0 }
  /** What the scenario is doing, named in the error when it fails. */
  let stage = 'opening the writer'
  let adversary: NsAdversary | undefined
  const check = async (endpoint: Endpoint, alias: string, length: number): Promise<void> => {
    const problem = await checkLog(endpoint, alias, length, o.messageBytes)
    if (problem !== undefined) problems.push(problem)
  }

  try {
    const writer = await open('writer')
    const address = await writer.endpoint.address()
    const name = parseAddress(address).name
    const owner = await writer.endpoint.owner()
    // The raw attacker of this name system (none yet for some: their attack guarantees are `not measured`).
    adversary = await adversaryFor(o.ns, { name, devnet: o.devnet, writerDir: join(o.root, 'writer') })
    // Nothing to arrange for the writer going offline: the devnet presets have the devnet's Helia
    // node pin every block put, and its seeder replicate every Hypercore publish, before they return.
    log(`writer at ${address}`)

    const batches = Math.ceil(o.messages / o.batch)
    const points = Math.max(1, o.catchUpPoints ?? 4)
    const probeAt = new Set(Array.from({ length: points - 1 }, (_, k) => Math.max(1, Math.round(batches * (k + 1) / points))))
    const halfway = Math.max(1, Math.floor(batches / 2))
    const pending: Array<{ length: number, at: number, lag?: number }> = []
    let follower: Actor | undefined
    let followed = { length: 0, delivered: 0 }
    let followerError: unknown
    let first: HeadRecord | undefined
    let firstPage: Uint8Array | undefined
    let last: HeadRecord | undefined
    let gas = 0
    const readerA: SyncReport[] = []

    for (let b = 0; b < batches; b++) {
      const from = b * o.batch
      const count = Math.min(o.batch, o.messages - from)
      stage = `publish ${b + 1}/${batches}`
      await writer.endpoint.append(Array.from({ length: count }, (_, i) => messageText(from + i, o.messageBytes)))
      const at = performance.now()
      if (follower !== undefined) pending.push({ length: from + count, at })
      const published = await writer.endpoint.publish()
      result.samples.publishMs.push(performance.now() - at)
      if (published === undefined) throw fail('CONFLICT', 'publish found nothing pending')
      gas += Number(published.receipt.gasUsed ?? 0)
      if (first === undefined) {
        first = published
        // Kept to replay later: the writer deletes each head page a publish replaces.
        firstPage = await writer.endpoint.cas.get(published.head)
        await adversary?.remember()
      }
      last = published

      if (b === 0) {
        stage = 'starting the live follower'
        // The follower starts once the name exists (a resolve of an unknown name may wait out a timeout).
        const f = await open('follower')
        follower = f
        await f.endpoint.follow(address, 'w')
        following = (async () => {
          for await (const report of f.endpoint.watch('w', { signal: stopFollowing.signal, pollMs: 200 })) {
            followed = { length: report.length, delivered: followed.delivered + report.delivered }
            const now = performance.now()
            for (const p of pending) if (p.lag === undefined && report.length >= p.length) p.lag = now - p.at
          }
        })().catch((e: unknown) => { if (!stopFollowing.signal.aborted) followerError = e })
      }
      if (b + 1 === halfway) {
        stage = 'reader A, half-way'
        // Reader A reads the first half, then goes offline until the end.
        const opened = await open('reader-a')
        await opened.endpoint.follow(address, 'w')
        const { report, actor: a } = await catchUp(opened, 'w', retries, reopenAs('reader-a'))
        readerA.push(report)
        await closeActor(a)
      }
      if (probeAt.has(b + 1)) {
        stage = `catch-up of a fresh reader at ${from + count}`
        const opened = await open(`probe-${b + 1}`)
        await opened.endpoint.follow(address, 'w')
        const { report, actor: probe } = await catchUp(opened, 'w', retries, reopenAs(`probe-${b + 1}`))
        result.catchUp.push({ messages: report.length, ms: report.ms })
        await check(probe.endpoint, 'w', from + count)
        await closeActor(probe)
      }
    }
    log(`published ${o.messages} messages in ${batches} publishes`)

    stage = 'waiting for the live follower'
    const deadline = Date.now() + timeoutMs
    while (followed.length < o.messages && followerError === undefined && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    stopFollowing.abort()
    await following
    if (followerError !== undefined) throw followerError
    if (followed.length < o.messages) throw fail('TIMEOUT', `the live follower had ${followed.length} of ${o.messages} messages after ${timeoutMs} ms`)
    result.samples.followerMs = pending.map(p => p.lag ?? Number.NaN).filter(Number.isFinite)
    if (followed.delivered !== o.messages) problems.push(`follower: ${followed.delivered} deliveries for ${o.messages} messages`)
    await check(follower!.endpoint, 'w', o.messages)

    stage = 'reader A, back online'
    const { report: again, actor: a } = await catchUp(await open('reader-a'), 'w', retries, reopenAs('reader-a'))
    readerA.push(again)
    if (readerA[0].delivered + readerA[1].delivered !== o.messages) problems.push(`reader A: ${readerA[0].delivered} + ${readerA[1].delivered} deliveries for ${o.messages} messages`)
    await check(a.endpoint, 'w', o.messages)

    stage = 'reader B, full catch-up'
    const openedB = await open('reader-b')
    await openedB.endpoint.follow(address, 'w')
    const { report: full, actor: readerB } = await catchUp(openedB, 'w', retries, reopenAs('reader-b'))
    result.catchUp.push({ messages: full.length, ms: full.ms })
    await check(readerB.endpoint, 'w', o.messages)
    const unchanged = await readerB.endpoint.sync('w')
    for (let i = 0; i < o.resolves; i++) {
      const at = performance.now()
      await readerB.endpoint.ns.resolve(name)
      result.samples.resolveMs.push(performance.now() - at)
    }

    stage = 'writer offline: its own process publishes the last message and exits; reader C'
    // The writer goes offline for good: its last append runs in a process of its own, which exits;
    // then a reader that never met it catches up from what stays online.
    const writerCounts = { ...writer.counts }
    await closeActor(writer)
    const total = o.messages + 1
    let exited = await runWriterProcess(join(o.root, 'writer'), config('writer'), ['append', messageText(o.messages, o.messageBytes)])
    // A publish that failed keeps the message in the journal: as a user would, run `publish` once more.
    const failedRuns: string[] = []
    if (exited.exitCode !== 0) {
      failedRuns.push(`append exited ${exited.exitCode}: ${exited.reason}`)
      exited = await runWriterProcess(join(o.root, 'writer'), config('writer'), ['publish'])
    }
    if (exited.exitCode !== 0) throw fail('UNAVAILABLE', `the writer's process could not publish its last message: ${[...failedRuns, `publish exited ${exited.exitCode}: ${exited.reason}`].join('; ')}`)
    result.details.writerProcessRuns = failedRuns.length + 1
    log(`the writer's process ${exited.pid} published message ${o.messages} and exited${failedRuns.length > 0 ? ` (after: ${failedRuns.join('; ')})` : ''}`)
    // A local folder is the writer's own disk: reader C gets a copy of the store without the
    // writer's files, or "offline" would mean nothing.
    const copy = await copyLocalStore(config('reader-c'), join(o.root, 'store-copy'))
    const configC = copy?.config ?? config('reader-c')
    let readerC = await open('reader-c', { config: configC })
    await readerC.endpoint.follow(address, 'w')
    let offline: SyncReport | undefined
    let offlineProblem: string | undefined
    const offlineErrors: string[] = []
    let attempts = 0
    // A cold Hypercore reader may find no peer on its first lookup (not found, or no answer in
    // time): like a user, it syncs again (a new process after an error), and the report says so.
    for (;;) {
      attempts++
      try {
        offline = await readerC.endpoint.sync('w')
        if (offline.published || attempts >= 3) break
        offlineErrors.push('name not found')
      } catch (e) {
        offlineErrors.push(codeOf(e))
        if (attempts >= 3 || !(isRemoteLogError(e, 'TIMEOUT') || isRemoteLogError(e, 'UNAVAILABLE'))) {
          offlineProblem = e instanceof Error ? e.message : String(e)
          break
        }
        await closeActor(readerC)
        readerC = await open('reader-c', { config: configC })
      }
    }
    if (offlineProblem === undefined) {
      offlineProblem = offline?.published === false ? `the name was not found in ${attempts} syncs` : await checkLog(readerC.endpoint, 'w', total, o.messageBytes)
    }
    await closeActor(readerC)
    result.details.offlineReaderSyncs = attempts
    const gone = `the writer's process (pid ${exited.pid}) published message ${o.messages} and exited${failedRuns.length > 0 ? ` (a second process: the first one's publish failed)` : ''}`
    const onCopy = copy !== undefined ? ` on a copy of the store's ${copy.copied.join(' and ')} without the writer's files` : ''
    result.guarantees.writerOffline = offlineProblem === undefined
      ? { held: true, verdict: 'held', how: `${gone}; a new reader${onCopy} then got all ${total} messages${attempts > 1 ? ` on its sync number ${attempts} (before: ${offlineErrors.join(', ')})` : ''}` }
      : { held: false, verdict: 'NOT HELD', how: `${gone}; a new reader${onCopy}: ${offlineProblem}${offlineErrors.length > 0 ? ` (syncs: ${offlineErrors.join(', ')})` : ''}` }

    stage = 'probing the guarantees with raw attacks'
    // The readers so far first sync the writer's last head: they are the readers that "saw newer".
    const probeReader = (who: string, dir: string, actor: Actor): ProbeReader => ({
      who,
      endpoint: actor.endpoint,
      alias: 'w',
      reopen: async () => {
        await closeActor(actor)
        return probeReader(who, dir, await open(dir))
      }
    })
    const readers: ProbeReader[] = [probeReader('the live follower', 'follower', follower!), probeReader('reader A', 'reader-a', a), probeReader('reader B', 'reader-b', readerB)]
    // Where the writer's last publish did not reach what stays online (see writerOffline), the
    // attacks start from the head the readers do get, as long as they agree on it.
    const lengths = new Set<number>()
    for (const r of readers) lengths.add(await syncUntil(r.endpoint, 'w', total, offlineProblem === undefined ? timeoutMs : 5000))
    if (lengths.size !== 1) throw fail('CONFLICT', `the readers disagree on the log's length before the attacks: ${[...lengths].join(', ')}`)
    const served = [...lengths][0]
    const headNow = (await readers[2].endpoint.following()).find(f => f.alias === 'w')!.cursor.head!
    let fresh = 0
    // The attacker's own endpoint, for putting pages in the log's store (anyone can: it is content-addressed).
    const mallory = await open('mallory')
    const ctx: ProbeContext = {
      cas: mallory.endpoint.cas,
      readers,
      expected: seq => messageText(seq, o.messageBytes),
      freshReader: async who => {
        const actor = await open(`new-reader-${++fresh}`)
        await actor.endpoint.follow(address, 'w')
        return { who, endpoint: actor.endpoint, alias: 'w', close: async () => { await closeActor(actor) } }
      }
    }
    let liar: LyingStore | undefined
    const liarActor = await open('liar-reader', { wrapCas: cas => (liar = lyingStore(cas)) })
    result.guarantees.storeLies = await probeStoreLies(ctx, { endpoint: liarActor.endpoint, store: liar!, close: async () => { await closeActor(liarActor) } }, { address, head: CID.parse(headNow), length: served })
    await closeActor(liarActor)
    if (adversary !== undefined) {
      result.guarantees.ownerOnlyWrites = await probeForeignWrite(ctx, adversary, owner)
      result.guarantees.rollbackRejected = await probeRollback(ctx, adversary, owner, { record: first!, page: firstPage! })
    } else {
      // No raw attacker for this backend yet: only remotelog's own client can be tried, which shows nothing about the backend.
      const unmeasured = (g: GuaranteeOutcome): GuaranteeOutcome => ({ ...g, held: false, verdict: 'not measured', how: `no raw adversary for ${o.ns} (compare/adversary.ts); remotelog's own client: ${g.how}` })
      result.guarantees.ownerOnlyWrites = unmeasured(await clientOwnerOnly(mallory.endpoint, name, last!, readers[2].endpoint))
      result.guarantees.rollbackRejected = unmeasured(await clientRollback(await open('writer'), name, first!, firstPage!, readers[2].endpoint))
    }
    result.guarantees.history = problems.length === 0
      ? { held: true, verdict: 'held', how: 'every reader got 0…N-1 in order, each once, bytes intact' }
      : { held: false, verdict: 'NOT HELD', how: problems.join('; ') }
    // An outcome a probe left without a verdict gets one from `held`.
    for (const key of Object.keys(result.guarantees) as GuaranteeKey[]) {
      const g = result.guarantees[key]!
      g.verdict ??= g.held ? 'held' : 'NOT HELD'
    }

    const catchUps = [readerA[1], full, ...(offline !== undefined ? [offline] : [])]
    result.catchUp.sort((x, y) => x.messages - y.messages)
    result.metrics = {
      publishP50: round(quantile(result.samples.publishMs, 0.5), 2),
      publishP95: round(quantile(result.samples.publishMs, 0.95), 2),
      resolveP50: round(quantile(result.samples.resolveMs, 0.5), 2),
      resolveP95: round(quantile(result.samples.resolveMs, 0.95), 2),
      catchUpMs: round(full.ms, 2),
      followerP50: round(quantile(result.samples.followerMs, 0.5), 2),
      followerP95: round(quantile(result.samples.followerMs, 0.95), 2),
      nsRequestsPerSync: round(mean(catchUps.map(s => s.nsRequests)), 2),
      casRequestsPerSync: round(mean(catchUps.map(s => s.casRequests)), 2),
      bytesMoved: writerCounts.bytesOut + full.bytes,
      gasPerPublish: Math.round(gas / batches)
    }
    result.details = {
      ...result.details,
      publishes: batches,
      writerCasPuts: writerCounts.casPuts,
      writerBytes: writerCounts.bytesOut,
      writerNsPublishes: writerCounts.nsPublishes,
      gasTotal: gas,
      fullCatchUpCasRequests: full.casRequests,
      fullCatchUpBytes: full.bytes,
      unchangedSyncNsRequests: unchanged.nsRequests,
      unchangedSyncCasRequests: unchanged.casRequests,
      followerDeliveries: followed.delivered,
      syncRetriesNotFoundOrTimedOut: retries.count
    }
    result.ok = true
  } catch (e) {
    result.error = `${stage}: ${e instanceof Error ? e.message : String(e)}`
    log(`failed: ${result.error}`)
  } finally {
    stopFollowing.abort()
    await following?.catch(() => {})
    await adversary?.close().catch(() => {})
    await Promise.allSettled(actors.splice(0).map(async actor => { await actor.close() }))
    result.durationMs = Math.round(performance.now() - started)
  }
  return result
}

/**
 * Through remotelog's own client (for a backend with no raw adversary): another endpoint's key
 * tries to move the writer's name. The client refuses before the backend sees anything.
 */
async function clientOwnerOnly (mallory: Endpoint, name: string, current: HeadRecord, reader: Endpoint): Promise<GuaranteeOutcome> {
  const owner = await mallory.owner()
  try {
    await mallory.ns.publish(name, { head: current.head, length: current.length + 1, revision: current.revision + 10 }, owner, { previous: current.head })
    return { held: false, how: 'another key\'s publish was accepted' }
  } catch (e) {
    if (!isRemoteLogError(e, 'PERMISSION')) return { held: false, how: `another key's publish failed with ${codeOf(e)}, not PERMISSION` }
  }
  const after = await reader.sync('w').catch((e: unknown) => e)
  if (after instanceof Error) return { held: false, how: `the name no longer reads cleanly: ${after.message}` }
  return { held: true, how: 'the client refused (PERMISSION); the name is unchanged' }
}

/**
 * Through remotelog's own client (for a backend with no raw adversary): the owner replays its first
 * head (page bytes put back in the CAS, record re-published).
 */
async function clientRollback (owner: Actor, name: string, first: HeadRecord, firstPage: Uint8Array, reader: Endpoint): Promise<GuaranteeOutcome> {
  try {
    await owner.endpoint.cas.put(firstPage)
    await owner.endpoint.ns.publish(name, { head: first.head, length: first.length, revision: first.revision }, await owner.endpoint.owner())
  } catch (e) {
    if (isRemoteLogError(e, 'CONFLICT')) return { held: true, how: 'refused by the name system (CONFLICT)' }
    return { held: false, how: `the rollback publish failed with ${codeOf(e)}, not CONFLICT` }
  } finally {
    await owner.close()
  }
  try {
    const report = await reader.sync('w')
    return { held: false, how: `the name system accepted it and a reader followed (${report.length} messages)` }
  } catch (e) {
    if (isRemoteLogError(e, 'CONFLICT')) return { held: true, how: 'the name system accepted it; readers refuse it (CONFLICT)' }
    return { held: false, how: `the name system accepted it; a reader failed with ${codeOf(e)}` }
  }
}
