import type { Command } from 'commander'
import { configPath, loadConfig } from '../../config/config.js'
import { checkAddress } from '../../core/address.js'
import { checkStateDir, globals, output, withEndpoint } from '../context.js'

export function registerFollow (program: Command): void {
  program.command('follow')
    .description('start following a log')
    .argument('<address>', 'the log address, e.g. local:b…, ens:alice.eth, hypercore:yuqn…, twirp:b…')
    .option('--as <alias>', 'a local alias for it')
    .action(async (address: string, options: { as?: string }, command: Command) => {
      // The scheme and the name's encoding are checked before any backend is opened.
      const g = globals(command)
      await checkStateDir(g.dir)
      const config = await loadConfig(configPath(g.dir, g.configFile))
      checkAddress(address, [config.ns.driver, ...Object.keys(config.resolvers ?? {})])
      await withEndpoint(command, async (endpoint, g) => {
        const record = await endpoint.follow(address, options.as)
        output(g, { alias: record.alias, address: record.address }, v => `following ${v.address} as ${v.alias}\nnext: remotelog sync ${v.alias}`)
      })
    })

  program.command('unfollow')
    .description('stop following a log and drop its messages')
    .argument('<alias>')
    .action(async (alias: string, _options: unknown, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        await endpoint.unfollow(alias)
        output(g, { unfollowed: alias }, v => `unfollowed ${v.unfollowed}`)
      })
    })
}
