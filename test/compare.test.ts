import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHARTS, GUARANTEES, METRICS, type CompareReport } from '../compare/metrics.js'
import { renderTable } from '../compare/table.js'
import { startDevnet, type Devnet } from '../devnet/devnet.js'
import { runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const NS = ['local', 'twirp', 'ens', 'hypercore']
let devnet: Devnet
let report: CompareReport
let html: string

beforeAll(async () => {
  devnet = await startDevnet({ dir: await tempDir('remotelog-compare-devnet-') })
  html = join(await tempDir('remotelog-compare-report-'), 'report.html')
  // Exit status 1 means a backend failed: the report still comes out, and the first test names the failure.
  const run = await runCli(['--json', 'compare', '--devnet', devnet.settingsFile, '--messages', '60', '--batch', '10', '--resolves', '5', '--html', html, '--quiet'])
  if (run.code !== 0 && run.code !== 1) throw new Error(`remotelog compare exited ${String(run.code)}: ${run.stderr}`)
  report = JSON.parse(run.stdout) as CompareReport
}, 180_000)
afterAll(async () => { await devnet?.stop() })

describe('remotelog compare on a running devnet', () => {
  it('--json gives a figure for every NS backend and every metric, and the guarantees each held', () => {
    expect(report.scenario).toMatchObject({ messages: 60, batch: 10 })
    expect(report.results.map(r => r.id)).toEqual(NS.map(ns => `${ns}+local`))
    for (const result of report.results) {
      expect(result.error).toBeUndefined()
      expect(result.ok).toBe(true)
      for (const metric of METRICS) {
        const value = result.metrics[metric.key]
        expect(Number.isFinite(value), `${result.id} ${metric.key} = ${String(value)}`).toBe(true)
        expect(value).toBeGreaterThanOrEqual(0)
      }
      expect(result.samples.publishMs).toHaveLength(6)
      expect(result.samples.resolveMs).toHaveLength(5)
      expect(result.samples.followerMs.length).toBeGreaterThan(0)
      expect(result.catchUp.at(-1)).toMatchObject({ messages: 60 })
      expect(result.details.unchangedSyncCasRequests).toBe(0) // an unchanged head costs no CAS request
      for (const g of GUARANTEES) expect(result.guarantees[g.key], `${result.id} ${g.key}`).toMatchObject({ held: true })
    }
    const ens = report.results.find(r => r.ns === 'ens')!
    expect(ens.metrics.gasPerPublish).toBeGreaterThan(20_000)
    for (const r of report.results.filter(r => r.ns !== 'ens')) expect(r.metrics.gasPerPublish).toBe(0)
  })

  it('prints a table with a column per backend and a row per metric and guarantee', () => {
    const table = renderTable(report)
    for (const r of report.results) expect(table).toContain(r.id)
    for (const m of METRICS) expect(table).toContain(m.label)
    for (const g of GUARANTEES) expect(table).toContain(g.label)
    expect(table).not.toMatch(/FAILED|did not hold/)
  })

  it('writes an HTML report that renders in headless Chromium: one chart per metric, every backend in each, no console errors', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      const requests: string[] = []
      page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
      page.on('pageerror', e => errors.push(e.message))
      page.on('request', r => requests.push(r.url()))
      await page.goto(pathToFileURL(html).href, { waitUntil: 'load' })

      const charts = await page.$$eval('figure.chart', figures => figures.map(f => {
        const svg = f.querySelector('svg')!
        const box = svg.getBoundingClientRect()
        return {
          id: f.getAttribute('data-chart'),
          metrics: (f.getAttribute('data-metrics') ?? '').split(' ').filter((m: string) => m !== ''),
          series: [...svg.querySelectorAll('g.series')].map(g => g.getAttribute('data-series')),
          marks: svg.querySelectorAll('rect, circle, line, path, polyline').length,
          width: box.width,
          height: box.height
        }
      }))
      expect(charts.map(c => c.id)).toEqual(CHARTS.map(c => c.id))
      // Every metric is drawn in exactly one chart, and every chart draws every backend.
      expect(charts.flatMap(c => c.metrics).sort()).toEqual(METRICS.map(m => m.key).sort())
      for (const chart of charts) {
        expect(chart.series, chart.id!).toEqual(report.results.map(r => r.id))
        expect(chart.width).toBeGreaterThan(300)
        expect(chart.height).toBeGreaterThan(100)
        expect(chart.marks).toBeGreaterThan(report.results.length)
      }
      const columns = await page.$$eval('table.metrics thead th[data-metric]', ths => ths.map(th => th.getAttribute('data-metric')))
      expect(columns).toEqual(METRICS.map(m => m.key))
      const rows = await page.$$eval('table.metrics tbody tr', trs => trs.map(tr => tr.getAttribute('data-backend')))
      expect(rows).toEqual(report.results.map(r => r.id))
      expect(errors).toEqual([])
      expect(requests.filter(u => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]) // self-contained
    } finally {
      await browser.close()
    }
  })
})
