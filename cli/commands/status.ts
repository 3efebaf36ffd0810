import type { Command } from 'commander'
import { output, withEndpoint } from '../context.js'

export function registerStatus (program: Command): void {
  program.command('status')
    .description('own logs, followed logs, cursors, backends')
    .action(async (_options: unknown, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        const logs = await Promise.all((await endpoint.logs()).map(async log => {
          const s = await endpoint.logStatus(log)
          return { log, address: s.address, length: s.length, revision: s.revision, pending: s.pending, head: s.head?.toString() ?? null }
        }))
        const follows = (await endpoint.following()).map(f => ({ alias: f.alias, address: f.address, length: f.cursor.length, head: f.cursor.head ?? null, lastSync: f.lastSync ?? null }))
        // `daemon`: whether this ran through the state dir's daemon (`remotelog daemon`).
        const status = { dir: g.dir, cas: endpoint.cas.backend, ns: endpoint.ns.backend, daemon: endpoint.daemon !== undefined, logs, follows }
        output(g, status, s => [
          `state dir: ${s.dir}`,
          `backends: cas ${s.cas}, ns ${s.ns}${endpoint.daemon !== undefined ? ` (open in the daemon, pid ${endpoint.daemon.pid})` : ''}`,
          'own logs:',
          ...s.logs.map(l => `  ${l.log}  ${l.address}  length ${l.length}, revision ${l.revision}, pending ${l.pending}`),
          'following:',
          ...(s.follows.length === 0 ? ['  (none)'] : s.follows.map(f => `  ${f.alias}  ${f.address}  delivered ${f.length}${f.lastSync !== null ? `, synced ${f.lastSync}` : ''}`))
        ].join('\n'))
      })
    })
}
