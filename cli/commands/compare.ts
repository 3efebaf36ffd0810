import type { Command } from 'commander'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fail } from '../../core/errors.js'
import type { LogMode } from '../../core/log-options.js'
import { globals, parseCount } from '../context.js'

interface CompareFlags {
  ns?: string
  cas?: string
  devnet?: string
  messages: number
  batch: number
  size: number
  mode: string
  pageEntries: number
  resolves: number
  html?: string
  screenshot?: string
  outage: boolean
  quiet?: boolean
}

const list = (value: string): string[] => value.split(',').map(v => v.trim()).filter(v => v !== '')

export function registerCompare (program: Command): void {
  program.command('compare')
    .description('run one scenario on each NS backend (and each CAS backend with --cas) of a devnet and compare latency, requests, bytes, gas, guarantees and recovery from a 3 s outage')
    .option('--ns <list>', 'name systems, comma-separated: local,twirp,ens,hypercore,ipns,dns or all (default: all)')
    .option('--cas <list>', 'content stores, comma-separated: local,helia,kubo,twirp or all; each NS runs on each (default: local)')
    .option('--devnet <file>', 'a running devnet\'s settings file or folder (default: start an embedded devnet for this run)')
    .option('--messages <n>', 'messages the writer publishes', parseCount, 500)
    .option('--batch <n>', 'messages per publish', parseCount, 25)
    .option('--size <bytes>', 'bytes per message', parseCount, 100)
    .option('--mode <mode>', 'log mode: pointer | inline | hybrid', 'pointer')
    .option('--page-entries <n>', 'entries per page', parseCount, 64)
    .option('--resolves <n>', 'resolves timed per backend', parseCount, 20)
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--screenshot <png>', 'with --html: also save a screenshot of the report (headless Chromium)')
    .option('--no-outage', 'skip the "survives a 3 s outage" row (saves ~5 s per backend combination)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (flags: CompareFlags, command: Command) => {
      const g = globals(command)
      if (!['pointer', 'inline', 'hybrid'].includes(flags.mode)) throw fail('INVALID_INPUT', `--mode must be pointer, inline or hybrid, not ${flags.mode}`)
      if (flags.screenshot !== undefined && flags.html === undefined) throw fail('INVALID_INPUT', '--screenshot needs --html')
      const { runCompare } = await import('../../compare/run.js')
      const report = await runCompare({
        ns: flags.ns === undefined ? undefined : list(flags.ns),
        cas: flags.cas === undefined ? undefined : list(flags.cas),
        devnet: flags.devnet,
        messages: flags.messages,
        batch: flags.batch,
        messageBytes: flags.size,
        mode: flags.mode as LogMode,
        pageEntries: flags.pageEntries,
        resolves: flags.resolves,
        outage: flags.outage,
        log: flags.quiet === true ? undefined : line => process.stderr.write(line + '\n')
      })
      let html: string | undefined
      if (flags.html !== undefined) {
        const { renderHtml } = await import('../../compare/html.js')
        html = resolve(flags.html)
        await mkdir(dirname(html), { recursive: true })
        await writeFile(html, renderHtml(report))
      }
      if (flags.screenshot !== undefined) {
        const { screenshotReport } = await import('../../compare/screenshot.js')
        const shot = await screenshotReport(html!, resolve(flags.screenshot))
        if (shot.consoleErrors.length > 0) process.stderr.write(`report page console errors: ${shot.consoleErrors.join('; ')}\n`)
      }
      if (g.json) {
        process.stdout.write(JSON.stringify(report) + '\n')
      } else {
        const { renderTable } = await import('../../compare/table.js')
        process.stdout.write(renderTable(report) + '\n')
        if (html !== undefined) process.stdout.write(`HTML report: ${html}\n`)
        if (flags.screenshot !== undefined) process.stdout.write(`screenshot: ${resolve(flags.screenshot)}\n`)
      }
      if (report.results.some(r => !r.ok)) process.exitCode = 1
    })
}
