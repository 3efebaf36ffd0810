import type { Command } from 'commander'
import { createReadStream } from 'node:fs'
import { fail, isRemoteLogError, type ErrorCode } from '../../core/errors.js'
import { MAX_OBJECT_BYTES } from '../../core/ids.js'
import { CliError, errorLine } from '../errors.js'
import { output, withEndpoint } from '../context.js'

interface AppendOptions { log: string, file?: string, stdin?: boolean, whole?: boolean, publish: boolean }

/** What an append journaled, for the error when its publish then fails. */
export interface Saved { log: string, messages: number, first: number, last: number }

/** Failures after which a later publish is expected to go through. */
export const transient: ErrorCode[] = ['UNAVAILABLE', 'TIMEOUT', 'ABORTED']

/** The `remotelog publish` command line that publishes `log`. */
export function publishCommand (log: string): string {
  return log === 'default' ? 'remotelog publish' : `remotelog publish --log ${log}`
}

/**
 * The error of a publish that failed after messages were journaled: its code (so the exit status is
 * the publish's, e.g. 9 for UNAVAILABLE), a line saying the messages are saved and when they go out,
 * and `saved` in the `--json` error object.
 */
export function savedError (error: unknown, saved: Saved, line: (messages: string, reason: string, then: string) => string): unknown {
  if (!isRemoteLogError(error)) return error
  const range = saved.first === saved.last ? `seq ${saved.first}` : `seq ${saved.first}–${saved.last}`
  const then = transient.includes(error.code)
    ? `they go out with the next \`${publishCommand(saved.log)}\` or append`
    : `they stay pending until a publish succeeds (\`${publishCommand(saved.log)}\`)`
  return new CliError(error.code, line(`${saved.messages} message(s) (${range})`, errorLine(error), then), { saved }, { cause: error })
}

function cannotRead (what: string, e: NodeJS.ErrnoException): Error {
  if (e.code === 'ENOENT') return fail('NOT_FOUND', `cannot read ${what}: no such file`)
  if (e.code === 'EISDIR') return fail('INVALID_INPUT', `cannot read ${what}: it is a folder`)
  return fail('INVALID_INPUT', `cannot read ${what}: ${e.code ?? e.message}`)
}

/**
 * Reads `source` into `into`: one message per line (LF or CRLF; a last line without a newline
 * counts), which must be UTF-8 text; or with `whole`, all its bytes as one message, exactly.
 * Streams: no copy of the whole input as one string, no argument spread of the lines.
 */
async function readMessages (source: NodeJS.ReadableStream, what: string, whole: boolean, into: Array<string | Uint8Array>): Promise<void> {
  if (whole) {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.byteLength
      if (size > MAX_OBJECT_BYTES) throw fail('TOO_LARGE', `${what} holds more than ${MAX_OBJECT_BYTES} bytes, the most one message can hold`)
      chunks.push(chunk)
    }
    into.push(new Uint8Array(Buffer.concat(chunks, size)))
    return
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  const notText = (): Error => fail('INVALID_INPUT', `${what} is not UTF-8 text, so it cannot be split into lines; to append its bytes exactly as one message, add --whole`)
  let rest = ''
  const take = (text: string): void => {
    const lines = (rest + text).split('\n')
    rest = lines.pop()!
    for (const line of lines) into.push(line.endsWith('\r') ? line.slice(0, -1) : line)
  }
  for await (const chunk of source as AsyncIterable<Buffer>) {
    let text: string
    try {
      text = decoder.decode(chunk, { stream: true })
    } catch {
      throw notText()
    }
    take(text)
  }
  try {
    take(decoder.decode())
  } catch {
    throw notText()
  }
  if (rest !== '') into.push(rest.endsWith('\r') ? rest.slice(0, -1) : rest)
}

async function readFileMessages (file: string, whole: boolean, into: Array<string | Uint8Array>): Promise<void> {
  try {
    await readMessages(createReadStream(file), file, whole, into)
  } catch (e) {
    if (isRemoteLogError(e)) throw e
    throw cannotRead(file, e as NodeJS.ErrnoException)
  }
}

export function registerAppend (program: Command): void {
  program.command('append')
    .description('append messages (one per argument, or per line of --file/--stdin) and publish them')
    .argument('[message...]', 'messages')
    .option('--log <name>', 'which own log', 'default')
    .option('--file <path>', 'read messages from a file, one per line (UTF-8 text; see --whole)')
    .option('--stdin', 'read messages from standard input, one per line (UTF-8 text; see --whole)')
    .option('--whole', 'with --file/--stdin: append all the input\'s bytes, exactly, as one message (any bytes, up to 1 MiB)')
    .option('--no-publish', 'only journal them; publish later')
    .addHelpText('after', `
Input that is not UTF-8 text is refused (exit 2) unless --whole.
If the publish fails after the messages were journaled, they stay saved: the error line says so
(with --json, "saved": {log, messages, first, last}), the exit status is the publish's (9 when the
backend is unavailable), and they go out with the next \`remotelog publish\` or append.`)
    .action(async (messages: string[], options: AppendOptions, command: Command) => {
      const whole = options.whole === true
      if (whole && options.file === undefined && options.stdin !== true) throw fail('INVALID_INPUT', '--whole goes with --file or --stdin')
      const items: Array<string | Uint8Array> = []
      for (const m of messages) items.push(m)
      if (options.file !== undefined) await readFileMessages(options.file, whole, items)
      if (options.stdin === true) await readMessages(process.stdin, 'standard input', whole, items)
      if (items.length === 0) throw fail('INVALID_INPUT', 'nothing to append: give messages, --file or --stdin')
      await withEndpoint(command, async (endpoint, g) => {
        const seqs = await endpoint.append(items, { log: options.log })
        const saved: Saved = { log: options.log, messages: seqs.length, first: seqs[0], last: seqs[seqs.length - 1] }
        let published: Awaited<ReturnType<typeof endpoint.publish>>
        if (options.publish) {
          try {
            published = await endpoint.publish({ log: options.log })
          } catch (e) {
            throw savedError(e, saved, (what, reason, then) => `saved ${what} in the journal; the publish failed: ${reason}; ${then}`)
          }
        }
        output(g, {
          appended: seqs.length,
          first: saved.first,
          last: saved.last,
          published: published !== undefined,
          head: published?.head.toString(),
          length: published?.length,
          receipt: published?.receipt
        }, v => `appended ${v.appended} (seq ${v.first}–${v.last})${v.published ? `, published: length ${v.length}, head ${v.head}` : ', not published'}`)
      })
    })
}
