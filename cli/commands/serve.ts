import type { Command } from 'commander'
import { configPath, loadConfig } from '../../config/config.js'
import { fail } from '../../core/errors.js'
import type { Seeder } from '../../adapters/ns/hypercore-seeder.js'
import { checkStateDir, globals, output, parseCount } from '../context.js'
import { readSecret } from '../secrets.js'
import { waitForSignal } from '../wait-for-signal.js'

interface ServeFlags {
  host: string
  port: number
  token?: string
  tokenFile?: string
  tokenCoversNs?: boolean
  maxBody?: number
  maxRecord?: number
  maxNames?: number
  newNamesPerMinute?: number
  updatesPerSecond?: number
  seed?: string[]
}

export function registerServe (program: Command): void {
  program.command('serve')
    .description("the remote log service: this state dir's CAS and NS over Twirp (and a Hypercore seeder with --seed)")
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', parseCount, 7878)
    .option('--token-file <file>', 'require the bearer token this file holds for CAS writes (or set $REMOTELOG_WRITE_TOKEN)')
    .option('--token <token>', 'the token itself (visible in `ps`: prefer --token-file)')
    .option('--token-covers-ns', 'require the token for NS updates too (default: signed NS updates are open to anyone)')
    .option('--max-body <bytes>', 'largest request body', parseCount)
    .option('--max-record <bytes>', 'largest NS record (default 10240, as IPNS)', parseCount)
    .option('--max-names <count>', 'most names the service stores (default 10000)', parseCount)
    .option('--new-names-per-minute <count>', 'new names one client (IP address) may create per minute (default 60)', parseCount)
    .option('--updates-per-second <count>', 'NS updates one name may store per second, bursts of 5 s worth (default 10)', parseCount)
    .option('--seed <address...>', 'also keep Hypercore logs replicated for readers (hypercore:<key>)')
    .action(async (flags: ServeFlags, command: Command) => {
      const g = globals(command)
      await checkStateDir(g.dir)
      const writeToken = await readSecret({ value: flags.token, file: flags.tokenFile, flag: '--token', fileFlag: '--token-file', env: 'REMOTELOG_WRITE_TOKEN' })
      const config = await loadConfig(configPath(g.dir, g.configFile))
      let seeder: Seeder | undefined
      if (flags.seed !== undefined) {
        const hypercore = config.ns.driver === 'hypercore' ? config.ns : config.resolvers?.hypercore
        if (hypercore === undefined) throw fail('INVALID_CONFIG', '--seed needs hypercore settings (ns or resolvers.hypercore) in the config')
        // Loaded only when used: the CLI's other commands never pay for Hypercore's native modules.
        const { startSeeder, seederOptionsFrom } = await import('../../adapters/ns/hypercore-seeder.js')
        seeder = await startSeeder(seederOptionsFrom(hypercore, g.dir, flags.seed))
        await Promise.all(flags.seed.map(async a => await seeder!.seed(a)))
      }
      const { serve } = await import('../../service/serve.js')
      const service = await serve({
        host: flags.host,
        port: flags.port,
        writeToken,
        tokenCoversNs: flags.tokenCoversNs === true,
        maxBodyBytes: flags.maxBody,
        nsLimits: {
          ...(flags.maxRecord !== undefined ? { maxRecordBytes: flags.maxRecord } : {}),
          ...(flags.maxNames !== undefined ? { maxNames: flags.maxNames } : {}),
          ...(flags.newNamesPerMinute !== undefined ? { newNamesPerMinute: flags.newNamesPerMinute } : {}),
          ...(flags.updatesPerSecond !== undefined ? { updatesPerSecond: flags.updatesPerSecond } : {})
        },
        // Clients get a bare `internal`; the operator sees the cause.
        onInternalError: (e: unknown) => { console.error('remotelog serve: internal error:', e) },
        stateDir: g.dir,
        cas: config.cas,
        ns: config.ns
      })
      output(g, { url: service.url, cas: config.cas.driver, ns: config.ns.driver, seeding: seeder?.seeding() ?? [] }, v =>
        `remotelog service on ${v.url} (cas ${v.cas}, ns ${v.ns})${v.seeding.length > 0 ? `, seeding ${v.seeding.length} hypercore log(s)` : ''} — Ctrl-C to stop`)
      await waitForSignal()
      await service.close()
      await seeder?.close()
    })
}
