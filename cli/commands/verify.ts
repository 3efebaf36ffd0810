import type { Command } from 'commander'
import { fail } from '../../core/errors.js'
import type { PackSummary } from '../../core/pack-check.js'
import { verifyPack } from '../../core/pack-verify.js'
import { globals, output } from '../context.js'
import { checkPackFile } from '../pack-file.js'
import { progressBar } from '../progress.js'

/** Parses a sequence number argument; INVALID_INPUT (exit 2) otherwise. */
export function parseSeq (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw fail('INVALID_INPUT', `not a sequence number: ${value}`)
  return n
}

/** Text lines describing what a pack holds (verify and import print them). */
export function describePack (s: PackSummary & { fileBytes: number }): string {
  const lines = [
    `head ${s.head}, length ${s.length}, revision ${s.revision}${s.address !== undefined ? `, log ${s.address}` : ''}`,
    `${s.messages} messages (${s.inline} inline, ${s.tombstones} scrubbed), ${s.pages} pages, ${s.payloads} payload blocks; ${s.blocks} blocks, ${s.fileBytes} bytes`,
    s.incremental ? `incremental: sequences ${s.since}–${s.length - 1}${s.continues !== undefined ? `, continues page ${s.continues}` : ''}` : 'full: sequences 0 on'
  ]
  if (s.scrubbed.length > 0) lines.push(`scrubbed from the log: ${s.scrubbed.join(', ')}`)
  return lines.join('\n')
}

/** `remotelog verify FILE.car`: checks a pack; exit non-zero with its first problem. */
export function registerVerify (program: Command): void {
  program.command('verify')
    .description('check a pack file: every block against its CID, the page chain, every payload')
    .argument('<file>', 'the pack file')
    .action(async (file: string, _options: unknown, command: Command) => {
      const g = globals(command)
      await checkPackFile(file)
      const bar = progressBar('verify', g.json)
      let summary
      try {
        summary = await verifyPack(file, { onProgress: p => bar.update(p.messages) })
      } finally {
        bar.stop()
      }
      output(g, { ok: true, file, ...summary }, s => `ok: ${file}\n${describePack(s)}`)
    })
}
