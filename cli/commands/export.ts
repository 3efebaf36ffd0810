import type { Command } from 'commander'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fail } from '../../core/errors.js'
import type { ExportSummary } from '../../core/pack-export.js'
import { jsonText, output, withEndpoint, writeOut } from '../context.js'
import { progressBar } from '../progress.js'
import { parseSeq } from './verify.js'

function render (s: ExportSummary): string {
  const what = s.incremental ? `incremental pack since ${s.since}` : 'full pack'
  return `wrote ${s.file}: ${what}, ${s.messages} messages (${s.pages} pages, ${s.payloads} payload blocks), ${s.fileBytes} bytes\nhead ${s.head}, length ${s.length}, revision ${s.revision}`
}

/** `remotelog export SOURCE --out FILE.car [--since SEQ]`: a log as a CARv1 pack file (`--out -`: standard output). */
export function registerExport (program: Command): void {
  program.command('export')
    .description('write a log as a CAR pack file (backup): every page and payload, rooted at its head')
    .argument('<source>', 'an address (local:b…, ens:…), a followed alias, or an own log (log:NAME)')
    .requiredOption('--out <file>', 'the pack file to write, e.g. backup.car; - for standard output (the summary then goes to stderr)')
    .option('--since <seq>', 'incremental pack: only what a backup taken at length SEQ lacks', parseSeq)
    .action(async (source: string, options: { out: string, since?: number }, command: Command) => {
      const toStdout = options.out === '-'
      if (toStdout && process.stdout.isTTY === true) throw fail('INVALID_INPUT', '--out -: not writing a binary pack to a terminal; redirect it (> backup.car) or pipe it')
      await withEndpoint(command, async (endpoint, g) => {
        // To standard output: written whole to a temporary file first (a pack is only complete once
        // its last block is in), then copied out.
        const temp = toStdout ? await mkdtemp(join(tmpdir(), 'remotelog-export-')) : undefined
        try {
          const out = temp === undefined ? options.out : join(temp, 'pack.car')
          const bar = progressBar('export', g.json)
          let summary: ExportSummary
          try {
            summary = await endpoint.exportPack(source, out, { since: options.since, onProgress: p => bar.update(p.messages) })
          } finally {
            bar.stop()
          }
          if (temp === undefined) {
            output(g, summary, render)
            return
          }
          for await (const chunk of createReadStream(out) as AsyncIterable<Buffer>) await writeOut(chunk)
          summary = { ...summary, file: '-' }
          process.stderr.write((g.json ? jsonText(summary) : render(summary).replace(/^wrote -/, 'wrote standard output')) + '\n')
        } finally {
          if (temp !== undefined) await rm(temp, { recursive: true, force: true })
        }
      })
    })
}
