import type { Command } from 'commander'
import type { ScrubResult } from '../../core/scrub.js'
import { output, withEndpoint } from '../context.js'
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

/** `remotelog scrub [--log NAME] SEQ…`: removes entries (tombstones), republishes, deletes payloads. */
export function registerScrub (program: Command): void {
  program.command('scrub')
    .description('remove entries from an own log: each keeps its sequence and id as a tombstone; payloads are deleted where the store can (no SEQ: finish an interrupted scrub)')
    .argument('[seq...]', 'sequence numbers to remove')
    .option('--log <name>', 'which own log', 'default')
    .action(async (seqs: string[], options: { log: string }, command: Command) => {
      const numbers = seqs.map(parseSeq)
      await withEndpoint(command, async (endpoint, g) => {
        output(g, await endpoint.scrub(numbers, { log: options.log }), render)
      })
    })
}
