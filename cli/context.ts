import { InvalidArgumentError, type Command } from 'commander'
import { CID } from 'multiformats/cid'
import { stat } from 'node:fs/promises'
import { defaultStateDir } from '../config/config.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Endpoint } from '../core/endpoint.js'
import { fail } from '../core/errors.js'

export interface Globals {
  dir: string
  configFile?: string
  json: boolean
}

/** The global options (`--dir`, `--config`, `--json`) as seen from any subcommand. */
export function globals (command: Command): Globals {
  const options = command.optsWithGlobals<{ dir?: string, config?: string, json?: boolean }>()
  return { dir: options.dir ?? defaultStateDir(), configFile: options.config, json: options.json === true }
}

/** INVALID_INPUT when the state dir exists but is not a folder (e.g. `--dir` names a file). */
export async function checkStateDir (dir: string): Promise<void> {
  const info = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined
    if (e.code === 'ENOTDIR') throw fail('INVALID_INPUT', `state dir ${dir} is not a folder (--dir or REMOTELOG_DIR): a part of its path is a file`)
    throw fail('INVALID_INPUT', `cannot use state dir ${dir}: ${e.code ?? e.message}`)
  })
  if (info !== undefined && !info.isDirectory()) throw fail('INVALID_INPUT', `state dir ${dir} is not a folder (--dir or REMOTELOG_DIR)`)
}

/** Opens the endpoint of the state dir, runs `fn`, and always closes it. */
export async function withEndpoint<T> (command: Command, fn: (endpoint: Endpoint, g: Globals) => Promise<T>): Promise<T> {
  const g = globals(command)
  await checkStateDir(g.dir)
  const endpoint = await openEndpoint({ dir: g.dir, configFile: g.configFile })
  try {
    return await fn(endpoint, g)
  } finally {
    await endpoint.close()
  }
}

/**
 * JSON as every command prints it: CIDs as their strings (not `{"/": …}`), durations in whole
 * milliseconds (fields named `ms` or `…Ms`), bigints as numbers (as strings beyond 2^53), bytes as hex.
 */
export function jsonText (value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const original = this[key]
    const cid = CID.asCID(original)
    if (cid !== null) return cid.toString()
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
    if (original instanceof Uint8Array) return Buffer.from(original).toString('hex')
    if (typeof v === 'number' && Number.isFinite(v) && (key === 'ms' || key.endsWith('Ms'))) return Math.round(v)
    return v
  })
}

/** Prints `value` as JSON with --json, else the text `render` makes of it. */
export function output<T> (g: Globals, value: T, render: (value: T) => string): void {
  process.stdout.write((g.json ? jsonText(value) : render(value)) + '\n')
}

/**
 * Writes to stdout, waiting while its buffer is full, so a long listing into a slow pipe does not
 * pile up in memory. (A closed pipe, EPIPE, ends the process quietly: see main.ts.)
 */
export async function writeOut (chunk: string | Uint8Array): Promise<void> {
  if (process.stdout.write(chunk)) return
  await new Promise<void>(resolve => process.stdout.once('drain', resolve))
}

/** A commander option parser for a count / sequence number: digits only, a safe integer. */
export function parseCount (value: string): number {
  const n = Number(value)
  if (!/^[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('not a non-negative integer')
  return n
}
