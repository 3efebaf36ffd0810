import type { Command } from 'commander'
import { access, mkdir } from 'node:fs/promises'
import { configPath, defaultStoreDir, saveConfig } from '../../config/config.js'
import { initConfig } from '../../config/presets.js'
import { devnetAlive, readDevnetSettings } from '../../devnet/settings.js'
import { Keystore } from '../../core/keystore.js'
import { fail } from '../../core/errors.js'
import { checkStateDir, globals, output } from '../context.js'

interface InitOptions {
  cas?: string
  ns?: string
  name?: string
  store?: string
  force?: boolean
  profile?: string
  devnet?: string
  remote?: string
  token?: string
}

/**
 * ENS and Hypercore need a chain and a DHT: `init --ns ens --name alice` with no profile uses the
 * devnet running at the default place, if there is one (else the presets explain what is missing).
 */
async function runningDefaultDevnet (options: InitOptions): Promise<boolean> {
  if (options.ns !== 'ens' && options.ns !== 'hypercore') return false
  const settings = await readDevnetSettings().catch(() => undefined)
  return settings !== undefined && devnetAlive(settings)
}

export function registerInit (program: Command): void {
  program.command('init')
    .description('create the state dir: keys, and a config with the embedded default backends (or a devnet\'s, or a service\'s)')
    .option('--cas <driver>', 'content store: local | helia | kubo | twirp (default: local; twirp with --remote)')
    .option('--ns <driver>', 'name system: local | ens | hypercore | twirp (default: local; twirp with --remote)')
    .option('--profile <profile>', 'embedded (default) | devnet: wire the backends to a running `remotelog devnet` (chosen by itself for --ns ens|hypercore when one runs at the default place)')
    .option('--devnet <file>', 'with --profile devnet: its settings file or folder (default: $REMOTELOG_DEVNET or ~/.local/share/remotelog/devnet)')
    .option('--remote <url>', 'a remote log service (`remotelog serve`) for both roles')
    .option('--token <token>', 'with --remote: the service\'s write token')
    .option('--name <label>', 'name to claim for the default log where names are claimed (ENS: <label>.eth; default: the state dir\'s name)')
    .option('--store <dir>', 'the shared embedded store (default: $REMOTELOG_STORE or ~/.local/share/remotelog/store)')
    .option('--force', 'overwrite an existing config (keys are kept)')
    .action(async (options: InitOptions, command: Command) => {
      const g = globals(command)
      for (const [role, driver] of [['--cas', options.cas], ['--ns', options.ns]]) {
        // A memory store is gone when the command that made it exits: the next command would find nothing.
        if (driver === 'memory') throw fail('INVALID_CONFIG', `${role} memory: memory backends live only as long as one process (they are for library use and tests); the CLI needs backends that outlive each command — use local (the default)`)
      }
      await checkStateDir(g.dir)
      const profile = options.profile ?? (options.devnet !== undefined || await runningDefaultDevnet(options) ? 'devnet' : 'embedded')
      if (profile !== 'embedded' && profile !== 'devnet') throw fail('INVALID_INPUT', `unknown profile "${profile}" (embedded | devnet)`)
      if (options.devnet !== undefined && profile !== 'devnet') throw fail('INVALID_INPUT', '--devnet goes with --profile devnet')
      const path = configPath(g.dir, g.configFile)
      const exists = await access(path).then(() => true, () => false)
      if (exists && options.force !== true) throw fail('CONFLICT', `${path} exists (use --force to overwrite it; keys are kept)`)
      const devnet = profile === 'devnet' ? await readDevnetSettings(options.devnet) : undefined
      const config = initConfig({
        stateDir: g.dir,
        store: options.store ?? defaultStoreDir(),
        cas: options.cas,
        ns: options.ns,
        name: options.name,
        remote: options.remote,
        token: options.token,
        devnet
      })
      // The state dir holds keys (and config.json a service's token): only its owner may read it.
      await mkdir(g.dir, { recursive: true, mode: 0o700 })
      await saveConfig(path, config)
      await new Keystore(g.dir).secret('default', { create: true })
      output(g, { dir: g.dir, config: path, profile, cas: config.cas.driver, ns: config.ns.driver, name: config.name }, v =>
        `initialized ${v.dir}\n  config: ${v.config}\n  profile: ${v.profile}; cas: ${v.cas}, ns: ${v.ns}${v.name !== undefined ? `; name: ${v.name}` : ''}`)
    })
}
