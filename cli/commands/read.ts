import type { Command } from 'commander'
import { fail } from '../../core/errors.js'
import { parseCount, withEndpoint, writeOut } from '../context.js'
import { escapeText } from '../text.js'

const decoder = new TextDecoder('utf-8', { fatal: false })
const NEWLINE = new Uint8Array([0x0a])
const EMPTY = new Uint8Array(0)

export function registerRead (program: Command): void {
  program.command('read')
    .description("print a followed (or own) log's messages in sequence order")
    .argument('<alias>', 'a followed alias, or an own log name (log:NAME)')
    .option('--from <seq>', 'first sequence number', parseCount, 0)
    .option('--raw', 'write each message\'s payload bytes exactly as stored, each followed by a newline: no sequence numbers, no escaping, scrubbed messages left out (a payload holding a newline then spans lines: use --json to split messages safely)')
    .addHelpText('after', `
Output, one line per message:
  text (default)  SEQ<TAB>TEXT: the payload as UTF-8 with \\ written \\\\, newline \\n, tab \\t, CR \\r,
                  other control characters and bytes that are not UTF-8 as \\xHH, C1 controls,
                  U+2028/2029 and bidi controls as \\uHHHH, and a leading "(" as \\( ; so TEXT never
                  starts with "(" except for markers: a scrubbed message is SEQ<TAB>(scrubbed)
  --json          {"seq","localHash","tombstone","payload" (base64, exact bytes),"text"}
  --raw           the payload bytes as they are, then a newline (see --raw)`)
    .action(async (alias: string, options: { from: number, raw?: boolean }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        if (options.raw === true && g.json) throw fail('INVALID_INPUT', '--raw and --json exclude each other')
        for await (const m of endpoint.read(alias, { from: options.from })) {
          if (options.raw === true) {
            if (m.tombstone || m.payload === undefined) continue
            await writeOut(m.payload)
            await writeOut(NEWLINE)
          } else if (g.json) {
            await writeOut(JSON.stringify({
              seq: m.seq,
              localHash: Buffer.from(m.localHash).toString('hex'),
              tombstone: m.tombstone,
              payload: m.payload === undefined ? null : Buffer.from(m.payload).toString('base64'),
              text: m.tombstone ? null : decoder.decode(m.payload)
            }) + '\n')
          } else {
            await writeOut(`${m.seq}\t${m.tombstone ? '(scrubbed)' : escapeText(m.payload ?? EMPTY)}\n`)
          }
        }
      })
    })
}
