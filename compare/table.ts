import { formatValue } from './format.js'
import { GUARANTEES, METRICS, OUTAGE_LABEL, VERDICT_CELL, evidenceBrief, outageBrief, outageRowCell, verdictOf, type BackendResult, type CompareReport } from './metrics.js'

const COLUMNS_PER_BLOCK = 6

function pad (cells: string[][]): string {
  const widths = cells[0].map((_, c) => Math.max(...cells.map(row => row[c].length)))
  return cells.map(row => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join('  ').trimEnd()).join('\n')
}

function block (results: BackendResult[]): string {
  const rows: string[][] = [['', ...results.map(r => r.id)]]
  for (const m of METRICS) rows.push([m.label, ...results.map(r => r.ok ? formatValue(r.metrics[m.key], m.unit) : '—')])
  for (const g of GUARANTEES) rows.push([g.label, ...results.map(r => r.guarantees[g.key] === undefined ? '—' : VERDICT_CELL[verdictOf(r.guarantees[g.key]!)])])
  if (results.some(r => r.outage !== undefined)) rows.push([OUTAGE_LABEL, ...results.map(r => outageRowCell(r.outage))])
  return pad(rows)
}

/**
 * The comparison as a terminal table: one column per backend (in blocks that fit a terminal),
 * one row per metric and guarantee (who refused the raw attack) and "survives a 3 s outage", then
 * each attack's evidence, the scenario, any failure or guarantee NOT HELD, and what each outage cut.
 * @example process.stdout.write(renderTable(report) + '\n')
 */
export function renderTable (report: CompareReport): string {
  const s = report.scenario
  const lines = [
    `remotelog compare: ${s.messages} messages of ${s.messageBytes} B in publishes of ${s.batch} (${s.mode} mode, ${s.pageEntries} entries/page), ${report.results.length} backend combination(s), ${(report.durationMs / 1000).toFixed(1)} s`,
    ''
  ]
  // One block per CAS backend when several were compared, else blocks that fit a terminal.
  const byCas = [...new Set(report.results.map(r => r.cas))].map(cas => report.results.filter(r => r.cas === cas))
  const blocks = byCas.length > 1 && byCas.every(b => b.length <= COLUMNS_PER_BLOCK)
    ? byCas
    : Array.from({ length: Math.ceil(report.results.length / COLUMNS_PER_BLOCK) }, (_, i) => report.results.slice(i * COLUMNS_PER_BLOCK, (i + 1) * COLUMNS_PER_BLOCK))
  for (const results of blocks) lines.push(block(results), '')
  lines.push('Who enforces each guarantee, shown by raw attacks that bypass remotelog\'s client: "backend refuses" = refused by the backend;',
    '"readers refuse" = accepted by the backend, refused by every reader (that saw newer, for a rollback). Evidence:')
  for (const r of report.results) {
    for (const g of GUARANTEES) {
      const outcome = r.guarantees[g.key]
      if (outcome?.evidence !== undefined) lines.push(`  ${r.id} ${g.label}: ${verdictOf(outcome)} — ${evidenceBrief(outcome)}`)
    }
  }
  const outages = report.results.filter(r => r.outage !== undefined)
  if (outages.length > 0) {
    lines.push('', `${OUTAGE_LABEL}: a writer and a live follower reach every networked backend through TCP fault proxies, all cut (connections refused) for 3 s;`,
      'the figure is the time from the backends\' return until the follower holds every message, none lost, none twice (✗: it did not). Per backend:')
    for (const r of outages) lines.push(`  ${r.id}: ${outageBrief(r.outage!)}`)
  }
  lines.push('')
  for (const r of report.results) {
    if (!r.ok) lines.push(`${r.id} FAILED: ${r.error ?? 'unknown error'}`)
    for (const g of GUARANTEES) {
      const outcome = r.guarantees[g.key]
      if (outcome === undefined) continue
      const verdict = verdictOf(outcome)
      if (verdict === 'NOT HELD') lines.push(`${r.id}: ${g.label} NOT HELD: ${outcome.how}`)
      if (verdict === 'not measured') lines.push(`${r.id}: ${g.label} not measured: ${outcome.how}`)
    }
  }
  lines.push('ms: publish = until the name moved; publish→follower = from publish call to a live follower having it; req/sync = mean over catch-up syncs')
  return lines.join('\n').trimEnd()
}
