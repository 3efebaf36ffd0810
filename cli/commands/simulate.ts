import type { Command } from 'commander'
import { fail } from '../../core/errors.js'
import { globals, output, parseCount } from '../context.js'

interface SimulateFlags {
  profile: string
  devnet?: string
  ns?: string
  cas?: string
  endpoints: number
  rounds: number
  churn: string
  messages: number
  seed?: number
  quiet?: boolean
}

export function registerSimulate (program: Command): void {
  program.command('simulate')
    .description('run K endpoints that publish, go offline and come back at random; report delivery (must be 100 %, no duplicates, in order) and cost per message')
    .option('--profile <profile>', 'local (embedded on-disk backends) | devnet', 'local')
    .option('--devnet <file>', 'with --profile devnet: a running devnet\'s settings (default: start an embedded one)')
    .option('--ns <driver>', 'with --profile devnet: local | twirp | ens | hypercore (default hypercore)')
    .option('--cas <driver>', 'with --profile devnet: local | helia | kubo | twirp (default helia)')
    .option('--endpoints <k>', 'endpoints, each writing a log and following all others', parseCount, 5)
    .option('--rounds <n>', 'rounds of churn, writes and syncs', parseCount, 8)
    .option('--churn <p>', 'chance per round that an online endpoint goes offline (and that an offline one stays away)', '0.3')
    .option('--messages <n>', 'most messages an endpoint appends per round', parseCount, 5)
    .option('--seed <n>', 'random seed (the same seed replays the same run)', parseCount)
    .option('--quiet', 'no progress lines on stderr')
    .action(async (flags: SimulateFlags, command: Command) => {
      const g = globals(command)
      const churn = Number(flags.churn)
      if (!Number.isFinite(churn)) throw fail('INVALID_INPUT', `--churn must be a number in [0, 1), not ${flags.churn}`)
      if (flags.profile !== 'devnet' && (flags.ns !== undefined || flags.cas !== undefined || flags.devnet !== undefined)) {
        throw fail('INVALID_INPUT', '--ns, --cas and --devnet go with --profile devnet')
      }
      const { runSimulation } = await import('../../simulate/run.js')
      const report = await runSimulation({
        profile: flags.profile as 'local' | 'devnet',
        devnet: flags.devnet,
        ns: flags.ns,
        cas: flags.cas,
        endpoints: flags.endpoints,
        rounds: flags.rounds,
        churn,
        maxMessages: flags.messages,
        seed: flags.seed,
        log: flags.quiet === true ? undefined : line => process.stderr.write(line + '\n')
      })
      output(g, report, r => [
        `remotelog simulate: ${r.endpoints} endpoints on ${r.profile} (${r.ns} + ${r.cas}), ${r.rounds} rounds, churn ${r.churn}, seed ${r.seed}`,
        `  published:   ${r.published} messages; ${r.offlineEvents} times an endpoint went offline; ${r.syncs} syncs`,
        `  delivered:   ${r.delivered} of ${r.expected} (${(r.deliveryRate * 100).toFixed(1)} %), ${r.duplicates} duplicates, ${r.misordered} out of order or altered`,
        `  per message: ${r.perMessage.nsRequests} NS requests, ${r.perMessage.casRequests} CAS requests, ${r.perMessage.bytes} bytes`,
        `  ${(r.durationMs / 1000).toFixed(1)} s`
      ].join('\n'))
      if (report.deliveryRate !== 1 || report.duplicates > 0 || report.misordered > 0) process.exitCode = 1
    })
}
