import type { Command } from 'commander'
import { openCas, type BackendConfig } from '../../adapters/registry.js'
import { fail } from '../../core/errors.js'
import { importPack, type ImportSummary } from '../../core/pack-import.js'
import type { RestoreResult } from '../../core/pack-restore.js'
import { globals, output, withEndpoint } from '../context.js'
import { checkPackFile } from '../pack-file.js'
import { progressBar, type Progress } from '../progress.js'
import { readSecret } from '../secrets.js'
import { describePack } from './verify.js'

/** `--cas` as a driver name (`helia`) or a backend config as JSON (`{"driver":"kubo","url":…}`). */
function parseCas (value: string): BackendConfig {
  if (!value.trim().startsWith('{')) return { driver: value.trim() }
  let config: unknown
  try {
    config = JSON.parse(value)
  } catch (cause) {
    throw fail('INVALID_INPUT', `--cas is neither a driver name nor JSON: ${value}`, { cause })
  }
  if (typeof (config as BackendConfig)?.driver !== 'string') throw fail('INVALID_INPUT', '--cas JSON must name a "driver"')
  return config as BackendConfig
}

function parseKey (hex: string, from: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw fail('INVALID_INPUT', `${from} is the log key from the old device: 64 hex digits (its keys.json entry)`)
  return Buffer.from(hex, 'hex')
}

type Imported = ImportSummary & { restored?: RestoreResult }

/** What to run after an import: continue the log here, or let readers follow it. */
function nextSteps (s: Imported, file: string, log: string | undefined): string[] {
  if (s.restored !== undefined) {
    return [
      `next: \`remotelog append${log === 'default' ? '' : ` --log ${log}`} MESSAGE\` continues ${s.restored.address} on this device (seq ${s.restored.length} on);`,
      '      its readers keep following that address. Stop writing it on the old device.'
    ]
  }
  const lines = [`next: \`remotelog import --restore ${file}\` makes it this device's default log (with its key: --key-file or REMOTELOG_KEY)`]
  if (s.address !== undefined) lines.push(`      or read it: \`remotelog follow ${s.address}\` then \`remotelog sync\` (the name must still resolve)`)
  return lines
}

function render (s: Imported, file: string, log: string | undefined): string {
  const restored = s.restored === undefined
    ? ''
    : `\nrestored ${s.restored.address}: length ${s.restored.length}, revision ${s.restored.revision}${s.restored.published ? ' (name published)' : ''}`
  return [`imported ${s.stored} blocks\n${describePack(s)}${restored}`, ...nextSteps(s, file, log)].join('\n')
}

interface ImportFlags { cas?: string, restore?: string | true, key?: string, keyFile?: string }

/** One progress bar per pass (verify, then import), so the count never jumps back. */
function phasedProgress (quiet: boolean): { update: (p: { phase: string, messages: number }) => void, stop: () => void } {
  let phase = ''
  let bar: Progress = progressBar('', true)
  return {
    update (p) {
      if (p.phase !== phase) {
        bar.stop()
        phase = p.phase
        bar = progressBar(phase, quiet)
      }
      bar.update(p.messages)
    },
    stop () { bar.stop() }
  }
}

/** `remotelog import FILE.car [--cas …] [--restore [LOG] [--key-file F]]`: loads a pack into a CAS. */
export function registerImport (program: Command): void {
  program.command('import')
    .description('load a pack file into a CAS (verified first; nothing partial looks complete), optionally restoring a log')
    .argument('[file]', 'the pack file')
    .option('--cas <backend>', 'load into this CAS instead of the configured one: a driver name, or its config as JSON, e.g. \'{"driver":"kubo","url":"http://127.0.0.1:5001"}\'')
    .option('--restore [log]', 'make the pack\'s head the head of this own log (default: default), to continue it on this device')
    .option('--key-file <file>', 'with --restore: a file holding the log\'s key from the old device (64 hex digits, its keys.json entry), if keys.json was not copied; or set $REMOTELOG_KEY')
    .option('--key <hex>', 'with --restore: the key itself (visible in `ps`: prefer --key-file)')
    .addHelpText('after', `
\`import --restore FILE\` restores the default log from FILE; \`import --restore LOG FILE\` another log.`)
    .action(async (fileArgument: string | undefined, options: ImportFlags, command: Command) => {
      const g = globals(command)
      let file = fileArgument
      let restore = options.restore === true ? 'default' : options.restore
      // `import --restore backup.car`: the optional LOG took the file; it is the file, restoring the default log.
      if (file === undefined && typeof options.restore === 'string') {
        file = options.restore
        restore = 'default'
      }
      if (file === undefined) throw fail('INVALID_INPUT', "missing required argument 'file' (see remotelog import --help)")
      if ((options.key !== undefined || options.keyFile !== undefined) && restore === undefined) throw fail('INVALID_INPUT', '--key and --key-file are only for --restore')
      if (options.cas !== undefined && restore !== undefined) throw fail('INVALID_INPUT', '--restore continues the log in the configured CAS; drop --cas')
      const keyHex = restore === undefined ? undefined : await readSecret({ value: options.key, file: options.keyFile, flag: '--key', fileFlag: '--key-file', env: 'REMOTELOG_KEY' })
      const key = keyHex === undefined ? undefined : parseKey(keyHex, options.key !== undefined ? '--key' : options.keyFile !== undefined ? `--key-file ${options.keyFile}` : 'REMOTELOG_KEY')
      await checkPackFile(file)
      const pack = file
      const bar = phasedProgress(g.json)
      let imported: Imported
      try {
        if (options.cas !== undefined) {
          const cas = await openCas(parseCas(options.cas), { stateDir: g.dir })
          try {
            imported = await importPack(pack, cas, { onProgress: p => bar.update(p) })
          } finally {
            await cas.close()
          }
        } else {
          imported = await withEndpoint(command, async endpoint => await endpoint.importPack(pack, { restore, key, onProgress: p => bar.update(p) }))
        }
      } finally {
        bar.stop()
      }
      output(g, imported, s => render(s, pack, restore))
    })
}
