import type { Command } from 'commander'
import { defaultStateDir } from '../config/config.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Endpoint } from '../core/endpoint.js'

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

/** Opens the endpoint of the state dir, runs `fn`, and always closes it. */
export async function withEndpoint<T> (command: Command, fn: (endpoint: Endpoint, g: Globals) => Promise<T>): Promise<T> {
  const g = globals(command)
  const endpoint = await openEndpoint({ dir: g.dir, configFile: g.configFile })
  try {
    return await fn(endpoint, g)
  } finally {
    await endpoint.close()
  }
}

/** Prints `value` as JSON with --json, else the text `render` makes of it. */
export function output<T> (g: Globals, value: T, render: (value: T) => string): void {
  process.stdout.write((g.json ? JSON.stringify(value) : render(value)) + '\n')
}

export function parseCount (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${value}`)
  return n
}
