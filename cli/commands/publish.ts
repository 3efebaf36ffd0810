import type { Command } from 'commander'
import { output, withEndpoint } from '../context.js'

export function registerPublish (program: Command): void {
  program.command('publish')
    .description('publish pending appends of a log')
    .option('--log <name>', 'which own log', 'default')
    .action(async (options: { log: string }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        const result = await endpoint.publish({ log: options.log })
        output(g, result === undefined ? { published: 0 } : { ...result, head: result.head.toString() }, v =>
          'head' in v ? `published ${v.published}: length ${v.length}, revision ${v.revision}, head ${v.head}` : 'nothing to publish')
      })
    })
}
