/** What a comparison measures per backend, and how each figure is charted in the HTML report. */

import { outageCell, type OutageResult } from './outage.js'

export type ChartKind = 'distribution' | 'bars' | 'catch-up'

/** One chart of the report; every metric belongs to exactly one. */
export interface ChartSpec {
  id: string
  title: string
  unit: string
  kind: ChartKind
  /** For distributions: which sample series of a result it draws. */
  samples?: 'publishMs' | 'resolveMs' | 'followerMs'
  /** For bars: the metric drawn. */
  metric?: MetricKey
  /** What the figure means, shown under the chart. */
  note: string
}

const DOTS = '; box: middle half, bar: median, ◇: 95th percentile, dots: every sample'

export const CHARTS: readonly ChartSpec[] = [
  { id: 'publish', title: 'Publish latency', unit: 'ms', kind: 'distribution', samples: 'publishMs', note: 'one publish = payloads and pages into the CAS, then the name moved (all publishes of the run)' + DOTS },
  { id: 'resolve', title: 'Resolve latency', unit: 'ms', kind: 'distribution', samples: 'resolveMs', note: 'a reader resolving the writer\'s name, repeated' + DOTS },
  { id: 'catch-up', title: 'Catch-up time vs N', unit: 'ms', kind: 'catch-up', note: 'a fresh reader that was offline syncs the whole log of N messages' },
  { id: 'follower', title: 'Publish → live follower', unit: 'ms', kind: 'distribution', samples: 'followerMs', note: 'from the writer calling publish until a live follower has delivered those messages' + DOTS },
  { id: 'ns-requests', title: 'NS requests per catch-up sync', unit: 'requests', kind: 'bars', metric: 'nsRequestsPerSync', note: 'mean over the offline readers\' catch-up syncs' },
  { id: 'cas-requests', title: 'CAS requests per catch-up sync', unit: 'requests', kind: 'bars', metric: 'casRequestsPerSync', note: 'mean over the offline readers\' catch-up syncs (pages + payloads)' },
  { id: 'bytes', title: 'Bytes moved', unit: 'bytes', kind: 'bars', metric: 'bytesMoved', note: 'CAS bytes the writer put plus what one full catch-up read' },
  { id: 'gas', title: 'Gas per publish', unit: 'gas', kind: 'bars', metric: 'gasPerPublish', note: 'ENS only: the contenthash transaction; other name systems spend none' }
]

export type MetricKey =
  | 'publishP50' | 'publishP95' | 'resolveP50' | 'resolveP95' | 'catchUpMs' | 'followerP50' | 'followerP95'
  | 'nsRequestsPerSync' | 'casRequestsPerSync' | 'bytesMoved' | 'gasPerPublish'

export interface MetricSpec {
  key: MetricKey
  label: string
  unit: string
  /** The chart that shows it. */
  chart: string
}

/** Every metric, in table order. */
export const METRICS: readonly MetricSpec[] = [
  { key: 'publishP50', label: 'publish p50', unit: 'ms', chart: 'publish' },
  { key: 'publishP95', label: 'publish p95', unit: 'ms', chart: 'publish' },
  { key: 'resolveP50', label: 'resolve p50', unit: 'ms', chart: 'resolve' },
  { key: 'resolveP95', label: 'resolve p95', unit: 'ms', chart: 'resolve' },
  { key: 'catchUpMs', label: 'catch-up', unit: 'ms', chart: 'catch-up' },
  { key: 'followerP50', label: 'publish→follower p50', unit: 'ms', chart: 'follower' },
  { key: 'followerP95', label: 'publish→follower p95', unit: 'ms', chart: 'follower' },
  { key: 'nsRequestsPerSync', label: 'NS req/sync', unit: '', chart: 'ns-requests' },
  { key: 'casRequestsPerSync', label: 'CAS req/sync', unit: '', chart: 'cas-requests' },
  { key: 'bytesMoved', label: 'bytes moved', unit: 'B', chart: 'bytes' },
  { key: 'gasPerPublish', label: 'gas/publish', unit: '', chart: 'gas' }
]

export type GuaranteeKey = 'ownerOnlyWrites' | 'rollbackRejected' | 'storeLies' | 'writerOffline' | 'history'

export const GUARANTEES: ReadonlyArray<{ key: GuaranteeKey, label: string, meaning: string }> = [
  { key: 'ownerOnlyWrites', label: 'owner-only writes', meaning: 'another key moves the writer\'s name to a forged head straight at the backend (no remotelog client): the backend refuses, or every reader refuses the forged head and delivers nothing of it' },
  { key: 'rollbackRejected', label: 'rollback rejected', meaning: 'the owner puts an older head back straight at the backend: the backend refuses, or every reader that saw newer refuses it' },
  { key: 'storeLies', label: 'lying store caught', meaning: 'a store that alters bytes, withholds a page or serves another log\'s page: every reader refuses with a typed error and records nothing it did not verify' },
  { key: 'writerOffline', label: 'works with writer offline', meaning: 'a new reader catches up on everything after the writer\'s process has exited; not applicable on a shared local folder unless the reader runs on a copy of the store' },
  { key: 'history', label: 'history', meaning: 'every reader got the whole log from sequence 0: in order, no gap, no duplicate, bytes intact' }
]

/**
 * Who enforced a guarantee, as shown by an attack that bypasses remotelog's own client:
 * - `refused by the backend`: the backend said no (status code, revert) and its state did not move;
 * - `accepted by the backend, refused by every reader`: the backend took it; every reader that
 *   counts refused it (its error code) and delivered nothing of it;
 * - `NOT HELD`: a reader delivered or followed what the attack put there (or a non-attack check failed);
 * - `held`: a check that is not an attack (catch-up, history) passed;
 * - `not applicable`: the check means nothing on this combination (e.g. a shared local folder);
 * - `not measured`: no raw adversary exists for this backend yet, or a reader could not be reached.
 */
export const VERDICTS = [
  'refused by the backend',
  'accepted by the backend, refused by every reader',
  'NOT HELD',
  'held',
  'not applicable',
  'not measured'
] as const

export type Verdict = typeof VERDICTS[number]

/** What the backend answered to one raw attempt. */
export interface BackendAnswer {
  /** The backend took the write (its state may have moved). */
  accepted: boolean
  /** One line: what was sent and what came back. */
  summary: string
  /** HTTP status (service). */
  status?: number
  /** Twirp error code (service). */
  twirpCode?: string
  /** Why the chain reverted (ENS). */
  revertReason?: string
  /** Transaction and its receipt status (ENS): 1 mined and applied, 0 mined and reverted. */
  txHash?: string
  txStatus?: number
  /** A remotelog error code, where the attempt failed with one. */
  code?: string
  /** The answer in a few words, for tables (e.g. `file written`, `NOERROR`); else derived from the fields above. */
  short?: string
}

/** What one reader did after an attack: its error code, or what it delivered. */
export interface ReaderEvidence {
  reader: string
  /** The reader had seen a newer head than the attack's before it (rollback counts only these). */
  sawNewer: boolean
  /** Its outcome decides the verdict (false: a new reader after a rollback, which cannot know better). */
  counted?: boolean
  /** The remotelog error code its sync failed with; absent when the sync went through. */
  code?: string
  error?: string
  /** It could not reach the name (UNAVAILABLE, TIMEOUT, not found) for 30 s: it shows nothing either way. */
  unreached?: boolean
  /** Syncs it ran (it syncs again while a change replicates or the name is out of reach). */
  syncs: number
  /** It still saw nothing after the wait, so it was reopened as a new process (fresh lookups) and synced again. */
  reopened?: boolean
  /** Messages its syncs delivered. */
  delivered: number
  /** The reader's log length afterwards. */
  length: number
  /** The head its cursor holds afterwards. */
  head?: string
  /** It followed the attacker's head (cursor moved there) or delivered a forged payload. */
  fooled: boolean
  /** Everything it holds still reads back as the writer published it. */
  intact: boolean
}

/** One raw attack and everything checked after it. */
export interface AttackEvidence {
  attack: string
  backend: BackendAnswer
  /** The head the backend held before and after, read raw. */
  nameBefore?: string
  nameAfter?: string
  /** The head the attack tried to install. */
  attackHead?: string
  readers: ReaderEvidence[]
  /** Anything else seen (e.g. peers that reached a foreign core). */
  remarks?: string[]
}

export interface GuaranteeOutcome {
  /** The guarantee was shown to hold (refused by the backend or by every reader, or held). */
  held: boolean
  /** Always set in a report (`runScenario` derives it from `held` for a probe that sets none). */
  verdict?: Verdict
  /** How it held or why not, in one line (e.g. "HTTP 403 permission_denied; name unchanged"). */
  how: string
  /** Per attack: the backend's answer, the name before/after and every reader's outcome. */
  evidence?: AttackEvidence[]
}

/** A verdict as a table cell. */
export const VERDICT_CELL: Record<Verdict, string> = {
  'refused by the backend': 'backend refuses',
  'accepted by the backend, refused by every reader': 'readers refuse',
  'NOT HELD': 'NOT HELD',
  held: 'yes',
  'not applicable': 'n/a',
  'not measured': 'not measured'
}

/** The verdict of an outcome (one from an older probe has only `held`). */
export function verdictOf (outcome: GuaranteeOutcome): Verdict {
  return outcome.verdict ?? (outcome.held ? 'held' : 'NOT HELD')
}

/**
 * The evidence of an outcome in one line: per attack, what the backend answered (HTTP status and
 * Twirp code, transaction status and revert reason) and each reader's error code or what it did.
 * @example evidenceBrief(result.guarantees.ownerOnlyWrites!) // 'another key … → HTTP 403 permission_denied; the live follower: unchanged, …'
 */
export function evidenceBrief (outcome: GuaranteeOutcome): string {
  const attacks = outcome.evidence ?? []
  if (attacks.length === 0) return outcome.how
  return attacks.map(a => {
    const b = a.backend
    const answer = b.status !== undefined
      ? `HTTP ${b.status}${b.twirpCode !== undefined ? ` ${b.twirpCode}` : ''}`
      : b.txHash !== undefined
        ? `tx status ${b.txStatus ?? 'none'}${b.revertReason !== undefined ? ` (${b.revertReason})` : ''}`
        : b.short ?? (b.accepted ? 'taken' : 'refused')
    const readers = a.readers.map(r => {
      const did = r.fooled ? 'FOLLOWED IT' : !r.intact ? 'DAMAGED' : r.code ?? (r.delivered > 0 ? `${r.delivered} delivered` : 'unchanged')
      return `${r.reader}: ${did}${r.counted === false ? ' (never saw newer: not counted)' : ''}`
    }).join(', ')
    return `${a.attack} → ${answer}; ${readers}`
  }).join(' | ')
}

/** One backend of a combination that compare's outage cut, or could not cut. */
export interface OutagePart {
  role: 'NS' | 'CAS'
  /** What it talks to, e.g. `the remote log service (Twirp over HTTP, http://127.0.0.1:7878)`. */
  what: string
  /** Set when not cut: what it goes over that a TCP fault proxy cannot sit in front of (`UDP`). */
  over?: string
}

/**
 * The "survives a 3 s outage" row of one combination (compare/backend-outage.ts): measured with
 * fault proxies in front of every backend in `cut`; `notApplicable` when both backends are on local
 * disk; `notMeasured` when nothing could be cut (or the endpoints could not be set up).
 */
export type OutageOutcome =
  | (OutageResult & { outageMs: number, cut: OutagePart[], notCut: OutagePart[] })
  | { notApplicable: string }
  | { notMeasured: string, notCut: OutagePart[] }

/** The row's label in the table and the HTML report. */
export const OUTAGE_LABEL = 'survives a 3 s outage'

/** What the row means, under the table and on hover in the HTML report. */
export const OUTAGE_MEANING = 'a writer and a live follower reach every networked backend through TCP fault proxies; all are cut (connections refused) for 3 s while the writer appends; figure: time from the backends\' return until the follower holds every message, none lost, none twice'

const notCutText = (parts: OutagePart[]): string => parts.map(p => `${p.role} over ${p.over ?? '?'}`).join(', ')

/**
 * The row's cell: `✓ 1.2 s`, `✗ 2 lost` (the error goes under the table), `✓ 1.4 s (CAS cut; NS over UDP not cut)`,
 * `not applicable (no network)`, `not measured (NS over UDP)`; `—` when compare ran without it.
 * @example outageRowCell({ recovered: true, recoveryMs: 1210, lost: 0, duplicated: 0, retries: 4, outageMs: 3000, cut: [ns], notCut: [] }) // '✓ 1.2 s'
 */
export function outageRowCell (outcome: OutageOutcome | undefined): string {
  if (outcome === undefined) return '—'
  if ('notApplicable' in outcome) return 'not applicable (no network)'
  if ('notMeasured' in outcome) return outcome.notCut.length > 0 ? `not measured (${notCutText(outcome.notCut)})` : 'not measured'
  const cell = outageCell({ ...outcome, error: undefined })
  return outcome.notCut.length === 0 ? cell : `${cell} (${outcome.cut.map(p => p.role).join(' and ')} cut; ${notCutText(outcome.notCut)} not cut)`
}

/** The row in one line, with what was cut and any error (under the table, on hover in the HTML report). */
export function outageBrief (outcome: OutageOutcome): string {
  if ('notApplicable' in outcome) return `not applicable: ${outcome.notApplicable}`
  if ('notMeasured' in outcome) return `not measured: ${outcome.notMeasured}`
  const what = outcome.recovered
    ? `recovered ${outcome.recoveryMs!} ms after the backends returned`
    : `did not recover: ${outcome.lost} lost, ${outcome.duplicated} twice${outcome.error !== undefined ? `, ${outcome.error}` : ''}`
  const parts = [`cut for ${outcome.outageMs} ms: ${outcome.cut.map(p => `${p.role}: ${p.what}`).join('; ')}`]
  if (outcome.notCut.length > 0) parts.push(`not cut: ${outcome.notCut.map(p => `${p.role}: ${p.what} (${p.over ?? '?'})`).join('; ')}`)
  return `${what}, ${outcome.retries} retries by the follower; ${parts.join('; ')}`
}

/** The outcome of the scenario on one NS + CAS combination. */
export interface BackendResult {
  /** `<ns>+<cas>`, e.g. `ens+local`. */
  id: string
  ns: string
  cas: string
  ok: boolean
  /** Why the scenario failed (ok false). */
  error?: string
  metrics: Partial<Record<MetricKey, number>>
  samples: { publishMs: number[], resolveMs: number[], followerMs: number[] }
  /** Full catch-up time of a fresh reader at several log lengths. */
  catchUp: Array<{ messages: number, ms: number }>
  guarantees: Partial<Record<GuaranteeKey, GuaranteeOutcome>>
  /** Raw counts behind the figures. */
  details: Record<string, number>
  durationMs: number
  /** "Survives a 3 s outage", measured after the scenario; absent when compare ran with `outage: false`. */
  outage?: OutageOutcome
}

/** What `remotelog compare` reports (`--json` prints exactly this). */
export interface CompareReport {
  version: 1
  startedAt: string
  durationMs: number
  scenario: { messages: number, batch: number, mode: string, pageEntries: number, messageBytes: number, resolves: number }
  devnet: { embedded: boolean, settings?: string }
  machine: { node: string, platform: string, cpus: number }
  results: BackendResult[]
}
