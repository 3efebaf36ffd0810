import type { Command } from 'commander'
import { isRemoteLogError } from '../../core/errors.js'
import { CliError, errorLine } from '../errors.js'
import { output, withEndpoint } from '../context.js'
import { publishCommand, savedError, transient } from './append.js'

export function registerPublish (program: Command): void {
  program.command('publish')
    .description('publish pending appends of a log')
    .option('--log <name>', 'which own log', 'default')
    .option('--rebase', 'after a CONFLICT (another device with this log\'s key published): publish the pending messages after its head, renumbered')
    .addHelpText('after', `
If the publish fails, the pending messages stay saved in the journal: the error line says so (with
--json, "saved": {log, messages, first, last}) and they go out with the next publish or append.`)
    .action(async (options: { log: string, rebase?: boolean }, command: Command) => {
      await withEndpoint(command, async (endpoint, g) => {
        let result
        try {
          if (options.rebase === true) {
            const rebased = await endpoint.rebase({ log: options.log })
            if (rebased.renumbered > 0) process.stderr.write(`rebased ${rebased.renumbered} message(s) onto the log's current head: they now start at seq ${rebased.from ?? 0}\n`)
            result = rebased.result
          } else {
            result = await endpoint.publish({ log: options.log })
          }
        } catch (e) {
          if (!isRemoteLogError(e)) throw e
          const writer = await endpoint.logStatus(options.log).catch(() => undefined)
          if (writer === undefined) {
            if (!transient.includes(e.code)) throw e
            // The log could not even be opened (its backend is down): what is pending is unknown here, but nothing was lost.
            throw new CliError(e.code, `the publish failed: ${errorLine(e)}; appends not yet published remain saved in the journal and go out with the next \`${publishCommand(options.log)}\``, {}, { cause: e })
          }
          if (writer.pending === 0) throw e
          const saved = { log: options.log, messages: writer.pending, first: writer.length, last: writer.length + writer.pending - 1 }
          throw savedError(e, saved, (what, reason, then) => `the publish failed: ${reason}; ${what} remain saved in the journal: ${then}`)
        }
        output(g, result === undefined ? { published: 0 } : { ...result, head: result.head.toString() }, v =>
          'head' in v ? `published ${v.published}: length ${v.length}, revision ${v.revision}, head ${v.head}` : 'nothing to publish')
      })
    })
}
