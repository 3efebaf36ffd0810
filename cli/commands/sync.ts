import type { Command } from 'commander'
import type { SyncReport } from '../../core/endpoint.js'
import type { RetryEvent } from '../../core/live-follow.js'
import { describeError, syncEach, type SyncFailure } from '../../core/sync-each.js'
import { fail } from '../../core/errors.js'
import { jsonText, output, withEndpoint } from '../context.js'
import { exitCodeOf } from '../errors.js'
import { progressBar } from '../progress.js'

function line (r: SyncReport): string {
  if (!r.published) return `${r.alias}: nothing published at ${r.address} yet`
  const scrubbed = r.scrubbed.length > 0 ? `, ${r.scrubbed.length} scrubbed` : ''
  return `${r.alias}: +${r.delivered} (${r.length} in all${scrubbed}) — ${r.nsRequests} NS / ${r.casRequests} CAS requests, ${r.bytes} bytes, ${Math.round(r.ms)} ms`
}

/** The stderr line of a live follower's retry: `remotelog: alice: [twirp] UNAVAILABLE: …; retrying in 1.6 s`. */
export function retryLine (event: RetryEvent): string {
  return `remotelog: ${event.alias}: ${describeError(event.error).message}; retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})`
}

function failureLine (alias: string, failure: SyncFailure): string {
  return `remotelog: ${alias}: ${failure.message}`
}

export function registerSync (program: Command): void {
  program.command('sync')
    .description('fetch what is new in followed logs (all, or those named); a log that fails does not stop the others')
    .argument('[alias...]', 'followed logs to sync')
    .option('--follow', 'keep following live (Ctrl-C to stop): sync on every new head; waits through outages')
    .addHelpText('after', `
On a terminal a progress bar shows each log's new messages (done/total, percent, ETA); it is
cleared when that log is done, leaving one line per log. With --follow, a line first names the
logs watched; each batch of new messages then prints as it arrives, until Ctrl-C.`)
    .action(async (aliases: string[], options: { follow?: boolean }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        const follows = aliases.length > 0 ? aliases.map(alias => ({ alias })) : await endpoint.following()
        const failures: SyncFailure[] = []
        if (options.follow === true) {
          if (follows.length === 0) throw fail('INVALID_INPUT', 'not following any log, so there is nothing to watch: `remotelog follow ADDRESS` first')
          const known = new Map((await endpoint.following()).map(f => [f.alias, f.address]))
          const unknown = follows.filter(f => !known.has(f.alias)).map(f => f.alias)
          if (unknown.length > 0) throw fail('NOT_FOUND', `not following ${unknown.join(', ')} (following: ${[...known.keys()].join(', ') || 'none'})`)
          if (!g.json) {
            const watched = follows.map(f => `${f.alias} (${known.get(f.alias)!})`).join(', ')
            process.stdout.write(`following ${watched} live: new messages print as they arrive; Ctrl-C to stop\n`)
          }
          const controller = new AbortController()
          process.once('SIGINT', () => controller.abort())
          process.once('SIGTERM', () => controller.abort())
          const onRetry = (event: RetryEvent): void => { process.stderr.write(retryLine(event) + '\n') }
          // Each log is followed on its own: a permanent failure of one is reported and ends only that one.
          await Promise.all(follows.map(async ({ alias }) => {
            try {
              for await (const report of endpoint.watch(alias, { signal: controller.signal, onRetry })) {
                if (report.delivered > 0 || report.scrubbed.length > 0) output(g, report, line)
              }
            } catch (error) {
              const failure = describeError(error)
              failures.push(failure)
              process.stderr.write(failureLine(alias, failure) + '\n')
              if (g.json) process.stdout.write(jsonText({ alias, error: failure }) + '\n')
            }
          }))
        } else {
          const results = await syncEach(follows, async ({ alias }) => {
            const bar = progressBar(alias, g.json)
            try {
              return await endpoint.sync(alias, { onProgress: (done, total) => bar.update(done, total) })
            } finally {
              bar.stop()
            }
          })
          for (const r of results) {
            if (r.error === undefined) continue
            failures.push(r.error)
            process.stderr.write(failureLine(r.alias, r.error) + '\n')
          }
          const synced = results.filter(r => r.error === undefined)
          if (g.json) output(g, results, () => '')
          else if (results.length === 0) output(g, results, () => 'not following any log')
          else if (synced.length > 0) output(g, synced, rs => rs.map(line).join('\n'))
        }
        // Every log that could be synced was; the exit status is the first failure's.
        if (failures.length > 0) process.exitCode = exitCodeOf(failures[0].code)
      })
    })
}
