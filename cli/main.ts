import '../core/node-compat.js'
import { Command } from 'commander'
import { CliError, exitWithError } from './errors.js'
import { allCommands, applyHelp, commandPath } from './help.js'
import { packageVersion } from './version.js'
import { registerInit } from './commands/init.js'
import { registerAppend } from './commands/append.js'
import { registerPublish } from './commands/publish.js'
import { registerAddress } from './commands/address.js'
import { registerFollow } from './commands/follow.js'
import { registerSync } from './commands/sync.js'
import { registerRead } from './commands/read.js'
import { registerStatus } from './commands/status.js'
import { registerDemo } from './commands/demo.js'
import { registerDevnet } from './commands/devnet.js'
import { registerCompare } from './commands/compare.js'
import { registerSimulate } from './commands/simulate.js'
import { registerServe } from './commands/serve.js'
import { registerSeed } from './commands/seed.js'
import { registerExport } from './commands/export.js'
import { registerImport } from './commands/import.js'
import { registerVerify } from './commands/verify.js'
import { registerScrub } from './commands/scrub.js'
import { registerFsck } from './commands/fsck.js'

const program = new Command('remotelog')
  .description('a remote log for data sync: messages in a content-addressed store, the newest page behind a name system')
  .option('--dir <dir>', 'state dir (default: $REMOTELOG_DIR or ~/.remotelog)')
  .option('--config <file>', 'config file (default: <dir>/config.json)')
  .option('--json', 'machine-readable output')
  .option('-V, --version', 'print the version')
  // Parse errors are printed by the catch below, as one line; subcommands inherit both settings.
  .configureOutput({ outputError: () => {} })
  .exitOverride()

for (const register of [registerInit, registerAppend, registerPublish, registerAddress, registerFollow, registerSync, registerRead, registerStatus, registerDemo, registerServe, registerSeed, registerDevnet, registerCompare, registerSimulate, registerExport, registerImport, registerVerify, registerScrub, registerFsck]) {
  register(program)
}
applyHelp(program)

// `remotelog read … | head -1`: the reader went away; stop quietly instead of dying on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  process.stderr.write(`remotelog: cannot write the output: ${error.message}\n`)
  process.exit(1)
})
process.stderr.on('error', () => {})

// The subcommand being parsed, for the hint after an argument error.
let subcommand: string | undefined
for (const parent of [program, ...allCommands(program)].filter(c => c.commands.length > 0)) {
  parent.hook('preSubcommand', (_parent, command) => { subcommand = commandPath(command) })
}

program.on('option:version', () => {
  const version = packageVersion()
  process.stdout.write(wantsJson() ? JSON.stringify({ name: 'remotelog', version, node: process.version }) + '\n' : `remotelog ${version}\n`)
  process.exit(0)
})

/** --json given anywhere before `--` (a parse error may come before commander has read it). */
function wantsJson (): boolean {
  if (program.opts<{ json?: boolean }>().json === true) return true
  const args = process.argv.slice(2)
  const end = args.indexOf('--')
  return (end === -1 ? args : args.slice(0, end)).includes('--json')
}

try {
  await program.parseAsync()
} catch (error) {
  const code = (error as { code?: string }).code
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(0)
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // A bad argument or option: one line, a suggestion for a near miss, a pointer to the command's help (exit 2).
    let reason = (error as Error).message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()
    const suggestion = /\(Did you mean (\S+)\?\)/.exec(reason)?.[1]
    reason = reason.replace(/\s*\(Did you mean \S+\?\)/, '').replace(/ is invalid\. /, ' is invalid: ')
    if (suggestion !== undefined) reason += `; did you mean ${code === 'commander.unknownCommand' ? `'${suggestion}'` : suggestion}?`
    exitWithError(new CliError('INVALID_INPUT', `${reason} (see remotelog ${subcommand !== undefined ? `${subcommand} ` : ''}--help)`, suggestion !== undefined ? { suggestion } : {}), wantsJson())
  }
  exitWithError(error, wantsJson())
}
