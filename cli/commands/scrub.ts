import type { Command } from 'commander'
import { createInterface } from 'node:readline/promises'
import { fail } from '../../core/errors.js'
import type { ScrubResult } from '../../core/scrub.js'
import { output, withEndpoint, type CliEndpoint } from '../context.js'
import { escapeText } from '../text.js'
import { parseSeq } from './verify.js'

function render (r: ScrubResult): string {
  const lines = [r.scrubbed.length > 0
    ? `scrubbed ${r.scrubbed.join(', ')}: ${r.pages} pages rewritten, published revision ${r.publish?.revision ?? '?'}`
    : 'nothing new to scrub']
  if (r.already.length > 0) lines.push(`already scrubbed: ${r.already.join(', ')}`)
  if (r.deleted.length > 0) lines.push(`deleted ${r.deleted.length} objects from the store`)
  if (r.kept.length > 0) lines.push(`kept ${r.kept.length} payloads other entries still use`)
  if (r.undeletable.length > 0) lines.push(`the store cannot delete: ${r.undeletable.length} objects remain until it is cleaned by other means`)
  return lines.join('\n')
}

/** What a scrub of `seqs` would do, found without changing anything. */
interface ScrubPlan {
  log: string
  length: number
  pending: number
  /** Would be scrubbed, with the start of each message's text. */
  scrub: Array<{ seq: number, text: string }>
  already: number[]
  /** Past the published entries: the scrub would be refused. */
  beyond: number[]
}

const PREVIEW = 60

async function plan (endpoint: CliEndpoint, log: string, seqs: number[]): Promise<ScrubPlan> {
  const writer = await endpoint.logStatus(log)
  const wanted = [...new Set(seqs)].sort((a, b) => a - b)
  const done = new Set(writer.scrubbed)
  const beyond = wanted.filter(s => s >= writer.length)
  const already = wanted.filter(s => s < writer.length && done.has(s))
  const fresh = wanted.filter(s => s < writer.length && !done.has(s))
  const texts = new Map<number, string>()
  if (fresh.length > 0) {
    const wantedSet = new Set(fresh)
    for await (const m of endpoint.read(`log:${log}`, { from: fresh[0] })) {
      if (wantedSet.has(m.seq) && m.payload !== undefined) {
        const text = escapeText(m.payload)
        texts.set(m.seq, text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text)
      }
      if (m.seq >= fresh[fresh.length - 1]) break
    }
  }
  return { log, length: writer.length, pending: writer.pending, scrub: fresh.map(seq => ({ seq, text: texts.get(seq) ?? '' })), already, beyond }
}

function describePlan (p: ScrubPlan): string {
  const lines = p.scrub.length > 0
    ? [`would scrub ${p.scrub.length} message(s) from log ${p.log} (${p.length} published):`, ...p.scrub.map(m => `  ${m.seq}\t${m.text}`)]
    : [`nothing new to scrub in log ${p.log}`]
  if (p.already.length > 0) lines.push(`already scrubbed: ${p.already.join(', ')}`)
  if (p.beyond.length > 0) lines.push(`not published (refused): ${p.beyond.join(', ')}${p.pending > 0 ? ` (${p.pending} pending: \`remotelog publish\` first)` : ''}`)
  return lines.join('\n')
}

async function confirm (question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim())
  } finally {
    rl.close()
  }
}

interface ScrubFlags { log: string, yes?: boolean, dryRun?: boolean }

/** `remotelog scrub [--log NAME] [--yes] [--dry-run] SEQ…`: removes entries (tombstones), republishes, deletes payloads. */
export function registerScrub (program: Command): void {
  program.command('scrub')
    .description('remove entries from an own log: each keeps its sequence and id as a tombstone; payloads are deleted where the store can (no SEQ: finish an interrupted scrub)')
    .argument('[seq...]', 'sequence numbers to remove')
    .option('--log <name>', 'which own log', 'default')
    .option('-y, --yes', 'do not ask for confirmation (it is asked only on a terminal)')
    .option('-n, --dry-run', 'show what would be scrubbed and change nothing')
    .addHelpText('after', `
A scrub cannot be undone: the messages' payloads are deleted from the store. On a terminal it lists
the messages and asks first (--yes skips that); elsewhere (scripts, pipes) it goes ahead.`)
    .action(async (seqs: string[], options: ScrubFlags, command: Command) => {
      const numbers = seqs.map(parseSeq)
      await withEndpoint(command, async (endpoint, g) => {
        const interactive = options.yes !== true && process.stdin.isTTY === true && numbers.length > 0
        if (options.dryRun === true || interactive) {
          const p = await plan(endpoint, options.log, numbers)
          if (options.dryRun === true) {
            output(g, { dryRun: true, ...p }, describePlan)
            return
          }
          if (p.scrub.length > 0) {
            process.stderr.write(describePlan(p).replace(/^would scrub/, 'about to scrub') + '\n')
            if (!await confirm(`Scrub ${p.scrub.length === 1 ? 'it' : 'them'} for good? Their payloads are deleted. [y/N] `)) {
              throw fail('ABORTED', 'scrub cancelled: nothing changed')
            }
          }
        }
        output(g, await endpoint.scrub(numbers, { log: options.log }), render)
      })
    })
}
