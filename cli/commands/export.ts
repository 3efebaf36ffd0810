import type { Command } from 'commander'
import type { ExportSummary } from '../../core/pack-export.js'
import { output, withEndpoint } from '../context.js'
import { progressBar } from '../progress.js'
import { parseSeq } from './verify.js'

function render (s: ExportSummary): string {
  const what = s.incremental ? `incremental pack since ${s.since}` : 'full pack'
  return `wrote ${s.file}: ${what}, ${s.messages} messages (${s.pages} pages, ${s.payloads} payload blocks), ${s.fileBytes} bytes\nhead ${s.head}, length ${s.length}, revision ${s.revision}`
}

/** `remotelog export SOURCE --out FILE.car [--since SEQ]`: a log as a CARv1 pack file. */
export function registerExport (program: Command): void {
  program.command('export')
    .description('write a log as a CAR pack file (backup): every page and payload, rooted at its head')
    .argument('<source>', 'an address (local:b…, ens:…), a followed alias, or an own log (log:NAME)')
    .requiredOption('--out <file>', 'the pack file to write, e.g. backup.car')
    .option('--since <seq>', 'incremental pack: only what a backup taken at length SEQ lacks', parseSeq)
    .action(async (source: string, options: { out: string, since?: number }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        const bar = progressBar('export', g.json)
        let summary: ExportSummary
        try {
          summary = await endpoint.exportPack(source, options.out, { since: options.since, onProgress: p => bar.update(p.messages) })
        } finally {
          bar.stop()
        }
        output(g, summary, render)
      })
    })
}
