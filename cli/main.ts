import '../core/node-compat.js'
import { Command } from 'commander'
import { CliError, exitWithError } from './errors.js'
import { allCommands, applyHelp, commandPath } from './help.js'
import { packageVersion } from './version.js'

type Register = (program: Command) => void

// Each command's module loads only when that command runs (all of them for the help and typos),
// so a command starts without loading the others and what they import.
const commands: Record<string, () => Promise<Register>> = {
  init: async () => (await import('./commands/init.js')).registerInit,
  append: async () => (await import('./commands/append.js')).registerAppend,
  publish: async () => (await import('./commands/publish.js')).registerPublish,
  address: async () => (await import('./commands/address.js')).registerAddress,
  follow: async () => (await import('./commands/follow.js')).registerFollow,
  sync: async () => (await import('./commands/sync.js')).registerSync,
  read: async () => (await import('./commands/read.js')).registerRead,
  status: async () => (await import('./commands/status.js')).registerStatus,
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  seed: async () => (await import('./commands/seed.js')).registerSeed,
  devnet: async () => (await import('./commands/devnet.js')).registerDevnet,
  compare: async () => (await import('./commands/compare.js')).registerCompare,
  simulate: async () => (await import('./commands/simulate.js')).registerSimulate,
  export: async () => (await import('./commands/export.js')).registerExport,
  import: async () => (await import('./commands/import.js')).registerImport,
  verify: async () => (await import('./commands/verify.js')).registerVerify,
  scrub: async () => (await import('./commands/scrub.js')).registerScrub,
  fsck: async () => (await import('./commands/fsck.js')).registerFsck,
  daemon: async () => (await import('./commands/daemon.js')).registerDaemon
}
const modules: Record<string, string> = { unfollow: 'follow' }

/** The command named on the command line, past the global options; undefined for none or an unknown one. */
function invoked (args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dir' || args[i] === '--config') { i++; continue }
    if (args[i].startsWith('-')) continue
    const name = modules[args[i]] ?? args[i]
    return name in commands ? name : undefined
  }
  return undefined
}

const program = new Command('remotelog')
  .description('a remote log for data sync: messages in a content-addressed store, the newest page behind a name system')
  .option('--dir <dir>', 'state dir (default: $REMOTELOG_DIR or ~/.remotelog)')
  .option('--config <file>', 'config file (default: <dir>/config.json)')
  .option('--json', 'machine-readable output')
  .option('-V, --version', 'print the version')
  // Parse errors are printed by the catch below, as one line; subcommands inherit both settings.
  .configureOutput({ outputError: () => {} })
  .exitOverride()

const only = invoked(process.argv.slice(2))
for (const load of only !== undefined ? [commands[only]] : Object.values(commands)) (await load())(program)
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
