import type { Command } from 'commander'
import { configPath, loadConfig } from '../../config/config.js'
import { fail } from '../../core/errors.js'
import { checkStateDir, globals, output } from '../context.js'
import { waitForSignal } from '../wait-for-signal.js'

export function registerSeed (program: Command): void {
  program.command('seed')
    .description('keep Hypercore logs replicated and served while their writers are offline (until Ctrl-C)')
    .argument('[address...]', 'hypercore:<key> addresses (logs seeded before are resumed too)')
    .action(async (addresses: string[], _flags: unknown, command: Command) => {
      const g = globals(command)
      await checkStateDir(g.dir)
      const config = await loadConfig(configPath(g.dir, g.configFile))
      const hypercore = config.ns.driver === 'hypercore' ? config.ns : config.resolvers?.hypercore
      if (hypercore === undefined) throw fail('INVALID_CONFIG', 'seeding needs hypercore settings (ns or resolvers.hypercore) in the config')
      const { startSeeder, seederOptionsFrom } = await import('../../adapters/ns/hypercore-seeder.js')
      const seeder = await startSeeder(seederOptionsFrom(hypercore, g.dir, addresses))
      try {
        const status = await Promise.all(addresses.map(async a => await seeder.seed(a)))
        output(g, { seeding: seeder.seeding(), status }, v => `seeding ${v.seeding.length} log(s): ${v.status.map(s => `${s.name.slice(0, 12)}… length ${s.length}`).join(', ')} — Ctrl-C to stop`)
        await waitForSignal()
      } finally {
        await seeder.close()
      }
    })
}
