import type { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fail } from '../../core/errors.js'
import { output, withEndpoint } from '../context.js'

async function readLines (source: NodeJS.ReadableStream): Promise<string[]> {
  const lines: string[] = []
  for await (const line of createInterface({ input: source, crlfDelay: Infinity })) lines.push(line)
  return lines
}

export function registerAppend (program: Command): void {
  program.command('append')
    .description('append messages (one per argument, or per line of --file/--stdin) and publish them')
    .argument('[message...]', 'messages')
    .option('--log <name>', 'which own log', 'default')
    .option('--file <path>', 'read messages from a file, one per line')
    .option('--stdin', 'read messages from standard input, one per line')
    .option('--no-publish', 'only journal them; publish later')
    .action(async (messages: string[], options: { log: string, file?: string, stdin?: boolean, publish: boolean }, command: Command) => {
      let items = messages
      if (options.file !== undefined) items = [...items, ...(await readFile(options.file, 'utf8')).split('\n').filter((l, i, all) => l !== '' || i < all.length - 1)]
      if (options.stdin === true) items = [...items, ...await readLines(process.stdin)]
      if (items.length === 0) throw fail('INVALID_INPUT', 'nothing to append: give messages, --file or --stdin')
      await withEndpoint(command, async (endpoint, g) => {
        const seqs = await endpoint.append(items, { log: options.log })
        const published = options.publish ? await endpoint.publish({ log: options.log }) : undefined
        output(g, {
          appended: seqs.length,
          first: seqs[0],
          last: seqs.at(-1),
          published: published !== undefined,
          head: published?.head.toString(),
          length: published?.length,
          receipt: published?.receipt
        }, v => `appended ${v.appended} (seq ${v.first}–${v.last})${v.published ? `, published: length ${v.length}, head ${v.head}` : ', not published'}`)
      })
    })
}
