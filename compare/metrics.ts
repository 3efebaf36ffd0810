/** What a comparison measures per backend, and how each figure is charted in the HTML report. */

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

export type GuaranteeKey = 'ownerOnlyWrites' | 'rollbackRejected' | 'writerOffline' | 'history'

export const GUARANTEES: ReadonlyArray<{ key: GuaranteeKey, label: string, meaning: string }> = [
  { key: 'ownerOnlyWrites', label: 'owner-only writes', meaning: 'another key\'s publish to the writer\'s name is refused (PERMISSION) and the name stays' },
  { key: 'rollbackRejected', label: 'rollback rejected', meaning: 'the owner re-publishing an older head is refused by the name system, or by a reader that saw newer' },
  { key: 'writerOffline', label: 'works with writer offline', meaning: 'a new reader catches up on everything after the writer\'s process is closed' },
  { key: 'history', label: 'history', meaning: 'every reader got the whole log from sequence 0: in order, no gap, no duplicate, bytes intact' }
]

export interface GuaranteeOutcome {
  held: boolean
  /** How it held or why not (e.g. "refused by the name system: CONFLICT"). */
  how: string
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
