import '../core/node-compat.js'
import { Command } from 'commander'
import { CliError, exitWithError } from './errors.js'
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
  // Parse errors are printed by the catch below, as one line; subcommands inherit both settings.
  .configureOutput({ outputError: () => {} })
  .exitOverride()

for (const register of [registerInit, registerAppend, registerPublish, registerAddress, registerFollow, registerSync, registerRead, registerStatus, registerDemo, registerServe, registerSeed, registerDevnet, registerCompare, registerSimulate, registerExport, registerImport, registerVerify, registerScrub, registerFsck]) {
  register(program)
}

// `remotelog read … | head -1`: the reader went away; stop quietly instead of dying on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  process.stderr.write(`remotelog: cannot write the output: ${error.message}\n`)
  process.exit(1)
})
process.stderr.on('error', () => {})

// The subcommand being parsed, for the hint after an argument error.
let subcommand: string | undefined
program.hook('preSubcommand', (_program, command) => { subcommand = command.name() })

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
    // A bad argument or option: one line and a pointer to the command's help (exit 2).
    const reason = (error as Error).message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()
    exitWithError(new CliError('INVALID_INPUT', `${reason} (see remotelog ${subcommand !== undefined ? `${subcommand} ` : ''}--help)`), wantsJson())
  }
  exitWithError(error, wantsJson())
}
