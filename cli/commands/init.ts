import type { Command } from 'commander'
import { access } from 'node:fs/promises'
import { configPath, defaultStoreDir, saveConfig } from '../../config/config.js'
import { initConfig } from '../../config/presets.js'
import { Keystore } from '../../core/keystore.js'
import { fail } from '../../core/errors.js'
import { globals, output } from '../context.js'

export function registerInit (program: Command): void {
  program.command('init')
    .description('create the state dir: keys, and a config with the embedded default backends')
    .option('--cas <driver>', 'content store: local | memory | helia | kubo | twirp', 'local')
    .option('--ns <driver>', 'name system: local | memory | ens | hypercore | twirp', 'local')
    .option('--name <label>', 'name to claim for the default log where names are claimed (ENS: <label>.eth)')
    .option('--store <dir>', 'the shared embedded store (default: $REMOTELOG_STORE or ~/.local/share/remotelog/store)')
    .option('--force', 'overwrite an existing config (keys are kept)')
    .action(async (options: { cas: string, ns: string, name?: string, store?: string, force?: boolean }, command: Command) => {
      const g = globals(command)
      const path = configPath(g.dir, g.configFile)
      const exists = await access(path).then(() => true, () => false)
      if (exists && options.force !== true) throw fail('CONFLICT', `${path} exists (use --force to overwrite it; keys are kept)`)
      const config = initConfig({ stateDir: g.dir, store: options.store ?? defaultStoreDir(), cas: options.cas, ns: options.ns, name: options.name })
      await saveConfig(path, config)
      await new Keystore(g.dir).secret('default')
      output(g, { dir: g.dir, config: path, cas: config.cas.driver, ns: config.ns.driver }, v =>
        `initialized ${v.dir}\n  config: ${v.config}\n  cas: ${v.cas}, ns: ${v.ns}`)
    })
}
