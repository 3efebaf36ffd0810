import { formatValue } from './format.js'
import { CHARTS, GUARANTEES, METRICS, OUTAGE_LABEL, OUTAGE_MEANING, VERDICT_CELL, evidenceBrief, outageBrief, outageRowCell, verdictOf, type BackendResult, type ChartSpec, type CompareReport, type OutageOutcome, type Verdict } from './metrics.js'
import { PALETTE, barChart, distributionChart, escapeXml, lineChart } from './svg.js'

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 1420px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0; }
.meta { color: #555; margin: 0 0 18px; }
table { border-collapse: collapse; margin: 8px 0 20px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #bbb; white-space: normal; vertical-align: bottom; max-width: 90px; }
td.yes { color: #176e2c; } td.no { color: #b00020; font-weight: 600; } td.na { color: #777; }
td.backend { color: #176e2c; font-weight: 600; } td.readers { color: #0b5f80; font-weight: 600; }
table.evidence td, table.evidence th, table.outage td.why, table.outage th { white-space: normal; text-align: left; vertical-align: top; } table.evidence td, table.outage td.why { font-size: 12px; }
table.evidence td.why, table.outage td.why { max-width: 820px; } .legend { color: #555; font-size: 12px; max-width: 1100px; }
.tables { display: flex; flex-wrap: wrap; gap: 0 32px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(700px, 1fr)); gap: 18px; }
figure.chart { margin: 0; padding: 12px; border: 1px solid #e4e4e4; border-radius: 6px; background: #fff; }
figcaption p { margin: 2px 0 8px; color: #666; font-size: 12px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } svg text.tick, svg text.unit { fill: #777; } svg text.value { font-weight: 600; }
.failed { color: #b00020; }
`

function seriesOf (results: BackendResult[]): Array<{ label: string, color: string, result: BackendResult }> {
  return results.map((result, i) => ({ label: result.id, color: PALETTE[i % PALETTE.length], result }))
}

function chart (spec: ChartSpec, results: BackendResult[]): string {
  const series = seriesOf(results)
  let svg: string
  if (spec.kind === 'distribution') {
    svg = distributionChart(spec.title, spec.unit, series.map(s => ({ ...s, samples: s.result.samples[spec.samples!] })))
  } else if (spec.kind === 'catch-up') {
    svg = lineChart(spec.title, 'messages (N)', spec.unit, series.map(s => ({ ...s, points: s.result.catchUp.map(p => ({ x: p.messages, y: p.ms })) })))
  } else {
    svg = barChart(spec.title, spec.unit, series.map(s => ({ ...s, value: s.result.ok ? s.result.metrics[spec.metric!] : undefined })))
  }
  const metrics = METRICS.filter(m => m.chart === spec.id).map(m => m.key).join(' ')
  return `<figure class="chart" data-chart="${spec.id}" data-metrics="${metrics}"><figcaption><h2>${escapeXml(spec.title)}</h2><p>${escapeXml(spec.note)}</p></figcaption>${svg}</figure>`
}

/** One row per backend, one column per metric: reads well for 1 to 16+ backends. */
function metricsTable (results: BackendResult[]): string {
  const head = `<thead><tr><th>backend (ns+cas)</th>${METRICS.map(m => `<th data-metric="${m.key}">${escapeXml(m.label).replace('→', '→<wbr>')}</th>`).join('')}</tr></thead>`
  const rows = results.map(r => `<tr data-backend="${escapeXml(r.id)}"><td>${escapeXml(r.id)}</td>${METRICS.map(m => `<td>${escapeXml(r.ok ? formatValue(r.metrics[m.key], m.unit) : '—')}</td>`).join('')}</tr>`)
  return `<table class="metrics">${head}<tbody>${rows.join('')}</tbody></table>`
}

const VERDICT_CLASS: Record<Verdict, string> = {
  'refused by the backend': 'backend',
  'accepted by the backend, refused by every reader': 'readers',
  'NOT HELD': 'no',
  held: 'yes',
  'not applicable': 'na',
  'not measured': 'na'
}

/** The outage cell: `data-outage` is `recovered`, `not recovered`, `not applicable` or `not measured`. */
function outageTd (o: OutageOutcome | undefined): string {
  if (o === undefined) return '<td data-outage="">—</td>'
  const [state, cls] = 'notApplicable' in o ? ['not applicable', 'na'] : 'notMeasured' in o ? ['not measured', 'na'] : o.recovered ? ['recovered', 'yes'] : ['not recovered', 'no']
  const ms = 'recoveryMs' in o && o.recoveryMs !== undefined ? ` data-recovery-ms="${o.recoveryMs}"` : ''
  return `<td class="${cls}" data-outage="${state}"${ms} title="${escapeXml(outageBrief(o))}">${escapeXml(outageRowCell(o))}</td>`
}

/** One row per backend, one column per guarantee: who refused the raw attack (the full verdict on hover and below); then the outage. */
function guaranteesTable (results: BackendResult[]): string {
  const outage = results.some(r => r.outage !== undefined)
  const head = `<thead><tr><th>backend (ns+cas)</th>${GUARANTEES.map(g => `<th data-guarantee="${g.key}" title="${escapeXml(g.meaning)}">${escapeXml(g.label)}</th>`).join('')}${outage ? `<th data-outage title="${escapeXml(OUTAGE_MEANING)}">${escapeXml(OUTAGE_LABEL)}</th>` : ''}</tr></thead>`
  const rows = results.map(r => `<tr data-backend="${escapeXml(r.id)}"><td>${escapeXml(r.id)}</td>${GUARANTEES.map(g => {
    const o = r.guarantees[g.key]
    if (o === undefined) return `<td data-guarantee="${g.key}">—</td>`
    const verdict = verdictOf(o)
    return `<td class="${VERDICT_CLASS[verdict]}" data-guarantee="${g.key}" data-verdict="${escapeXml(verdict)}" title="${escapeXml(`${verdict}: ${o.how}`)}">${escapeXml(VERDICT_CELL[verdict])}</td>`
  }).join('')}${outage ? outageTd(r.outage) : ''}</tr>`)
  return `<table class="guarantees">${head}<tbody>${rows.join('')}</tbody></table>`
}

/** Every guarantee of every backend with its verdict and evidence: the backend's answer, each reader's outcome. */
function evidenceTable (results: BackendResult[]): string {
  const head = '<thead><tr><th>backend</th><th>guarantee</th><th>verdict</th><th>evidence: the backend\'s answer; each reader</th></tr></thead>'
  const rows = results.flatMap(r => GUARANTEES.flatMap(g => {
    const o = r.guarantees[g.key]
    if (o === undefined) return []
    const verdict = verdictOf(o)
    return [`<tr data-backend="${escapeXml(r.id)}" data-guarantee="${g.key}" data-verdict="${escapeXml(verdict)}"><td>${escapeXml(r.id)}</td><td>${escapeXml(g.label)}</td><td class="${VERDICT_CLASS[verdict]}">${escapeXml(verdict)}</td><td class="why">${escapeXml(evidenceBrief(o))}<details><summary>in full</summary>${escapeXml(o.how)}</details></td></tr>`]
  }))
  return `<table class="evidence">${head}<tbody>${rows.join('')}</tbody></table>`
}

/** What each outage cut and how it ended, per backend. */
function outageSection (results: BackendResult[]): string {
  const rows = results.filter(r => r.outage !== undefined).map(r => `<tr data-backend="${escapeXml(r.id)}"><td>${escapeXml(r.id)}</td>${outageTd(r.outage)}<td class="why">${escapeXml(outageBrief(r.outage!))}</td></tr>`)
  return `<section><h2>${escapeXml(OUTAGE_LABEL)}</h2>
<p class="legend">${escapeXml(OUTAGE_MEANING)}. Hypercore's DHT and DNS queries run over UDP and are not behind a proxy: a row says which part was not cut.</p>
<table class="outage"><thead><tr><th>backend</th><th>outcome</th><th>what was cut, retries, errors</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`
}

/**
 * The comparison as one self-contained HTML page: summary tables, then one inline SVG chart per
 * metric (latency distributions per backend, catch-up time vs N, requests, bytes, gas). No script,
 * no stylesheet or font from elsewhere; the report's JSON rides along in a data block.
 * @example await writeFile('report.html', renderHtml(report))
 */
export function renderHtml (report: CompareReport): string {
  const s = report.scenario
  const results = report.results
  const failures = results.filter(r => !r.ok).map(r => `<li>${escapeXml(r.id)}: ${escapeXml(r.error ?? 'failed')}</li>`).join('')
  const data = JSON.stringify(report).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>remotelog compare — ${results.length} backend combination(s)</title>
<style>${STYLE}</style></head>
<body>
<h1>remotelog compare</h1>
<p class="meta">${s.messages} messages of ${s.messageBytes} B, published in batches of ${s.batch} (${escapeXml(s.mode)} mode, ${s.pageEntries} entries per page); ${report.devnet.embedded ? 'embedded devnet' : `devnet ${escapeXml(report.devnet.settings ?? '')}`};
Node ${escapeXml(report.machine.node)} on ${escapeXml(report.machine.platform)}, ${report.machine.cpus} CPU(s); ${escapeXml(report.startedAt)}, ${(report.durationMs / 1000).toFixed(1)} s.</p>
${failures !== '' ? `<ul class="failed">${failures}</ul>` : ''}
<div class="tables"><section><h2>Figures</h2>${metricsTable(results)}</section>
<section><h2>Guarantees</h2>${guaranteesTable(results)}</section></div>
<section><h2>Who enforces each guarantee</h2>
<p class="legend">Each guarantee is attacked with the backend's own protocol, files or SDK, bypassing remotelog's client: <b>backend refuses</b> = refused by the backend (its status code or revert, its state unchanged); <b>readers refuse</b> = accepted by the backend, refused by every reader (for a rollback: every reader that saw newer; a new reader cannot tell); <b>NOT HELD</b> = a reader followed the attack. Readers are synced after every attack and their copies read back.</p>
${evidenceTable(results)}</section>
${results.some(r => r.outage !== undefined) ? outageSection(results) : ''}
<section class="charts">${CHARTS.map(c => chart(c, results)).join('\n')}</section>
<script type="application/json" id="report-data">${data}</script>
</body></html>
`
}
