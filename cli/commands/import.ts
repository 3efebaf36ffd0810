import type { Command } from 'commander'
import { openCas, type BackendConfig } from '../../adapters/registry.js'
import { fail } from '../../core/errors.js'
import { importPack, type ImportSummary } from '../../core/pack-import.js'
import type { RestoreResult } from '../../core/pack-restore.js'
import { globals, output, withEndpoint } from '../context.js'
import { progressBar } from '../progress.js'
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

function parseKey (hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw fail('INVALID_INPUT', '--key is the log key from the old device: 64 hex digits (its keys.json entry)')
  return Buffer.from(hex, 'hex')
}

function render (s: ImportSummary & { restored?: RestoreResult }): string {
  const restored = s.restored === undefined
    ? ''
    : `\nrestored ${s.restored.address}: length ${s.restored.length}, revision ${s.restored.revision}${s.restored.published ? ' (name published)' : ''}`
  return `imported ${s.stored} blocks\n${describePack(s)}${restored}`
}

interface ImportFlags { cas?: string, restore?: string | true, key?: string }

/** One progress bar per pass (verify, then import), so the count never jumps back. */
function phasedProgress (quiet: boolean): { update: (p: { phase: string, messages: number }) => void, stop: () => void } {
  let phase = ''
  let bar = progressBar('', true)
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

/** `remotelog import FILE.car [--cas …] [--restore [LOG] [--key HEX]]`: loads a pack into a CAS. */
export function registerImport (program: Command): void {
  program.command('import')
    .description('load a pack file into a CAS (verified first; nothing partial looks complete), optionally restoring a log')
    .argument('<file>', 'the pack file')
    .option('--cas <backend>', 'load into this CAS instead of the configured one: a driver name, or its config as JSON, e.g. \'{"driver":"kubo","url":"http://127.0.0.1:5001"}\'')
    .option('--restore [log]', 'make the pack\'s head the head of this own log (default: default), to continue it on this device')
    .option('--key <hex>', 'with --restore: the log\'s key from the old device (64 hex digits), if keys.json was not copied')
    .action(async (file: string, options: ImportFlags, command: Command) => {
      const g = globals(command)
      const restore = options.restore === true ? 'default' : options.restore
      if (options.key !== undefined && restore === undefined) throw fail('INVALID_INPUT', '--key is only for --restore')
      const bar = phasedProgress(g.json)
      try {
        if (options.cas !== undefined) {
          if (restore !== undefined) throw fail('INVALID_INPUT', '--restore continues the log in the configured CAS; drop --cas')
          const cas = await openCas(parseCas(options.cas), { stateDir: g.dir })
          try {
            output(g, await importPack(file, cas, { onProgress: p => bar.update(p) }), render)
          } finally {
            await cas.close()
          }
          return
        }
        await withEndpoint(command, async endpoint => {
          const key = options.key === undefined ? undefined : parseKey(options.key)
          output(g, await endpoint.importPack(file, { restore, key, onProgress: p => bar.update(p) }), render)
        })
      } finally {
        bar.stop()
      }
    })
}
