import type { Command } from 'commander'
import { output, withEndpoint } from '../context.js'

export function registerAddress (program: Command): void {
  program.command('address')
    .description("print a log's address, for readers to follow")
    .option('--log <name>', 'which own log', 'default')
    .action(async (options: { log: string }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        output(g, { log: options.log, address: await endpoint.address(options.log) }, v => v.address)
      })
    })
}
