import type { Command } from 'commander'
import type { SyncReport } from '../../core/endpoint.js'
import { output, withEndpoint } from '../context.js'
import { progressBar } from '../progress.js'

function line (r: SyncReport): string {
  if (!r.published) return `${r.alias}: nothing published at ${r.address} yet`
  const scrubbed = r.scrubbed.length > 0 ? `, ${r.scrubbed.length} scrubbed` : ''
  return `${r.alias}: +${r.delivered} (${r.length} in all${scrubbed}) — ${r.nsRequests} NS / ${r.casRequests} CAS requests, ${r.bytes} bytes, ${Math.round(r.ms)} ms`
}

export function registerSync (program: Command): void {
  program.command('sync')
    .description('fetch what is new in followed logs (all, or those named)')
    .argument('[alias...]', 'followed logs to sync')
    .option('--follow', 'keep following live (Ctrl-C to stop): sync on every new head')
    .action(async (aliases: string[], options: { follow?: boolean }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        const names = aliases.length > 0 ? aliases : (await endpoint.following()).map(f => f.alias)
        if (options.follow === true) {
          const controller = new AbortController()
          process.once('SIGINT', () => controller.abort())
          process.once('SIGTERM', () => controller.abort())
          await Promise.all(names.map(async alias => {
            for await (const report of endpoint.watch(alias, { signal: controller.signal })) {
              if (report.delivered > 0 || report.scrubbed.length > 0) output(g, report, line)
            }
          }))
          return
        }
        const reports: SyncReport[] = []
        for (const alias of names) {
          const bar = progressBar(alias, g.json)
          try {
            reports.push(await endpoint.sync(alias, { onProgress: n => bar.update(n) }))
          } finally {
            bar.stop()
          }
        }
        output(g, reports, rs => rs.length === 0 ? 'not following any log' : rs.map(line).join('\n'))
      })
    })
}
