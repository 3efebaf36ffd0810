import type { Command } from 'commander'
import { parseCount, withEndpoint } from '../context.js'

const decoder = new TextDecoder('utf-8', { fatal: false })

export function registerRead (program: Command): void {
  program.command('read')
    .description("print a followed (or own) log's messages in sequence order")
    .argument('<alias>', 'a followed alias, or an own log name (log:NAME)')
    .option('--from <seq>', 'first sequence number', parseCount, 0)
    .action(async (alias: string, options: { from: number }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        for await (const m of endpoint.read(alias, { from: options.from })) {
          // One line per message: NDJSON with --json (payload base64), else "seq<TAB>text".
          const text = m.tombstone ? '(scrubbed)' : decoder.decode(m.payload)
          process.stdout.write(g.json
            ? JSON.stringify({ seq: m.seq, localHash: Buffer.from(m.localHash).toString('hex'), tombstone: m.tombstone, payload: m.payload === undefined ? null : Buffer.from(m.payload).toString('base64'), text: m.tombstone ? null : text }) + '\n'
            : `${m.seq}\t${text}\n`)
        }
      })
    })
}
