import '../core/node-compat.js'
import { Command } from 'commander'
import { exitWithError } from './errors.js'
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

const program = new Command('remotelog')
  .description('a remote log for data sync: messages in a content-addressed store, the newest page behind a name system')
  .option('--dir <dir>', 'state dir (default: $REMOTELOG_DIR or ~/.remotelog)')
  .option('--config <file>', 'config file (default: <dir>/config.json)')
  .option('--json', 'machine-readable output')
  .showHelpAfterError()
  .exitOverride()

for (const register of [registerInit, registerAppend, registerPublish, registerAddress, registerFollow, registerSync, registerRead, registerStatus, registerDemo, registerServe, registerSeed, registerDevnet, registerCompare, registerSimulate, registerExport, registerImport, registerVerify, registerScrub]) {
  register(program)
}

try {
  await program.parseAsync()
} catch (error) {
  const code = (error as { code?: string }).code
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(0)
  if (typeof code === 'string' && code.startsWith('commander.')) process.exit((error as { exitCode?: number }).exitCode ?? 2)
  exitWithError(error, program.opts<{ json?: boolean }>().json === true)
}
