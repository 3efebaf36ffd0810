import type { Command } from 'commander'
import { remainingProblems, type FsckReport, type Problem } from '../../core/fsck.js'
import { output, withEndpoint } from '../context.js'
import { exitCodes } from '../errors.js'

function line (p: Problem): string {
  const where = p.offset !== undefined ? `${p.file} (byte ${p.offset})` : p.file
  const then = p.repaired !== true && p.fix !== undefined ? ` — ${p.fix}` : ''
  return `${p.repaired === true ? 'repaired' : 'problem'}: ${where}: ${p.problem}${then}`
}

function render (r: FsckReport): string {
  const left = remainingProblems(r).length
  const c = r.checked
  return [
    ...r.problems.map(line),
    ...r.repaired.map(what => `repair: ${what}`),
    `checked ${c.logs} own log(s), ${c.follows} followed log(s), ${c.records} record(s), ${c.pages} page(s), ${c.payloads} payload(s): ` +
      (r.problems.length === 0 ? 'no problems' : `${r.problems.length} problem(s), ${r.problems.length - left} repaired, ${left} remain${left > 0 && r.repaired.length === 0 ? ' (see `remotelog fsck --repair`)' : ''}`)
  ].join('\n')
}

/** `remotelog fsck [--repair]`: checks the state dir (exit 0 when sound or repaired, 7 when problems remain). */
export function registerFsck (program: Command): void {
  program.command('fsck')
    .description('check every state file, the own logs\' chains against the store and the followed logs\' cursors; exit 7 when problems remain')
    .option('--repair', 'rewrite damaged journals and messages files keeping every intact record (unpublished messages renumbered, followed logs fetched again from the first gap)')
    .action(async (options: { repair?: boolean }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        const report = await endpoint.fsck({ repair: options.repair === true })
        output(g, report, render)
        const left = remainingProblems(report).length
        if (left > 0) {
          process.stderr.write(`remotelog: fsck: ${left} problem(s) ${options.repair === true ? 'remain' : 'found'} in ${g.dir}\n`)
          process.exitCode = exitCodes.INTEGRITY
        }
      })
    })
}
