import { InvalidArgumentError, type Command } from 'commander'
import { CID } from 'multiformats/cid'
import { stat } from 'node:fs/promises'
import { defaultStateDir } from '../config/config.js'
import type { Endpoint } from '../core/endpoint.js'
import { fail } from '../core/errors.js'
import type { FsckOptions, FsckReport } from '../core/fsck.js'

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

/**
 * What commands use of an endpoint: the `Endpoint` methods (plain data in and out, so a running
 * daemon can serve them), the backends' names, and fsck. Either the endpoint itself (the command
 * runs alone) or calls to the state dir's daemon (cli/daemon-client.ts).
 */
export type CliEndpoint = Pick<Endpoint, 'append' | 'publish' | 'rebase' | 'address' | 'logs' | 'logStatus' | 'follow' | 'unfollow' |
'following' | 'sync' | 'syncAll' | 'watch' | 'read' | 'scrub' | 'exportPack' | 'importPack' | 'close'> & {
  readonly cas: { readonly backend: string }
  readonly ns: { readonly backend: string }
  /** Checks (and with `repair`, repairs) the state dir: see core/fsck.ts. */
  fsck: (options?: FsckOptions) => Promise<FsckReport>
  /** The daemon the calls go to; undefined when the command runs alone. */
  readonly daemon?: { pid: number, socket: string }
}

/**
 * Runs `fn` with the state dir's endpoint and always closes it: through the state dir's daemon when
 * one answers on its socket (`remotelog daemon`), else opened here, with its backends.
 */
export async function withEndpoint<T> (command: Command, fn: (endpoint: CliEndpoint, g: Globals) => Promise<T>): Promise<T> {
  const g = globals(command)
  await checkStateDir(g.dir)
  const { connectDaemon } = await import('./daemon-client.js')
  const remote = await connectDaemon(g.dir, g.configFile)
  if (remote !== undefined) {
    try {
      return await fn(remote, g)
    } finally {
      await remote.close()
    }
  }
  const { openEndpoint } = await import('../config/open-endpoint.js')
  const endpoint = await openEndpoint({ dir: g.dir, configFile: g.configFile })
  try {
    return await fn(Object.assign(endpoint, {
      fsck: async (options?: FsckOptions) => await (await import('../core/fsck.js')).fsck(endpoint, options)
    }), g)
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
