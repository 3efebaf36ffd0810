import type { Command } from 'commander'
import { keepLog } from '../../devnet/control.js'
import { defaultDevnetDir, devnetAlive, readDevnetSettings, type DevnetSettings } from '../../devnet/settings.js'
import { fail } from '../../core/errors.js'
import { globals, output } from '../context.js'
import { waitForSignal } from '../wait-for-signal.js'

/**
 * The short summary `remotelog devnet` prints once everything answers.
 * @example console.log(devnetSummary(devnet.settings, devnet.settingsFile))
 */
export function devnetSummary (s: DevnetSettings, file: string): string {
  return [
    `remotelog devnet running in ${s.dir}`,
    `  settings:               ${file}`,
    `  IPFS, Helia (pins):     ${s.ipfs.helia.multiaddrs.join(' ')}`,
    `  IPFS, Kubo RPC API:     ${s.ipfs.kubo.url}`,
    `  Ethereum (Hardhat):     ${s.ethereum.rpcUrl}  chain ${s.ethereum.chainId}, ENS registry ${s.ethereum.ens.registry}, ${s.ethereum.accounts.length} funded accounts`,
    `  Hypercore DHT:          ${s.hypercore.bootstrap.map(b => `${b.host}:${b.port}`).join(' ')} (+ seeder)`,
    `  remote log service:     ${s.service.url}`,
    ...(s.dns !== undefined ? [`  DNS (BIND 9 named):     ${s.dns.server}  zone ${s.dns.zone}, TSIG key ${s.dns.tsig.name}`] : []),
    `  control API:            ${s.control.url}`,
    `use it:   remotelog init --profile devnet --ns ens|hypercore|${s.dns !== undefined ? 'dns|' : ''}local|twirp --cas helia|kubo|local|twirp`,
    'compare:  remotelog compare --devnet ' + file,
    'Ctrl-C stops everything.'
  ].join('\n')
}

export function registerDevnet (program: Command): void {
  const devnet = program.command('devnet')
    .description('start every real backend locally (Helia, Kubo RPC, Hardhat + ENS, Hypercore DHT + seeder, the service) until Ctrl-C')
    .option('--folder <dir>', 'the devnet folder (default: $REMOTELOG_DEVNET or ~/.local/share/remotelog/devnet)')
    .option('--quiet', 'print only the summary')
    .action(async (options: { folder?: string, quiet?: boolean }, command: Command) => {
      const g = globals(command)
      const log = options.quiet === true || g.json ? undefined : (line: string) => process.stderr.write(line + '\n')
      // Loaded here: the devnet pulls in every backend's SDK, which other commands never need.
      const { startDevnet } = await import('../../devnet/devnet.js')
      const running = await startDevnet({ dir: options.folder ?? defaultDevnetDir(), log })
      try {
        output(g, running.settings, s => devnetSummary(s, running.settingsFile))
        await waitForSignal()
      } finally {
        await running.stop()
      }
    })

  devnet.command('keep <address>')
    .description('ask the running devnet to keep a log available while its writer is offline (seed hypercore logs; --pin for helia logs)')
    .option('--pin', 'also fetch and pin the log\'s blocks on the devnet\'s Helia node')
    .option('--devnet <file>', 'the devnet settings file or folder (default: the default devnet)')
    .action(async (address: string, options: { pin?: boolean, devnet?: string }, command: Command) => {
      const g = globals(command)
      const settings = await readDevnetSettings(options.devnet)
      if (!devnetAlive(settings)) throw fail('UNAVAILABLE', `the devnet in ${settings.dir} is not running (start it with: remotelog devnet)`)
      const result = await keepLog(settings.control.url, address, { pin: options.pin })
      output(g, result, r => [
        `kept ${r.address}`,
        r.seeded !== undefined ? `  seeder: ${r.seeded.length} head records, newest held: ${r.seeded.hasHead}` : undefined,
        r.pinned !== undefined ? `  helia: ${r.pinned.length} messages pinned` : undefined
      ].filter(l => l !== undefined).join('\n'))
    })
}
