import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configPath, saveConfig, type Config } from '../config/config.js'
import { fail } from '../core/errors.js'

/** The `remotelog` command of this package (sources in a clone, the bundle when installed). */
function cliBin (): string {
  for (const candidate of ['../bin/remotelog.js', '../../bin/remotelog.js']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url))
    if (existsSync(path)) return path
  }
  throw fail('INVALID_CONFIG', 'cannot find bin/remotelog.js next to the compare code')
}

/** What the writer's own process did before it exited. */
export interface ExitedWriter {
  pid: number
  exitCode: number
  /** Its last line on stderr (why it failed). */
  reason: string
  ms: number
}

/**
 * Runs the writer as a process of its own — `remotelog --dir DIR <args…>`, e.g. `append MESSAGE`,
 * which appends and publishes — and returns once that process has exited and is gone: nothing of
 * the writer runs anywhere after this. Writes `DIR/config.json` from `config` first.
 * @example const { pid, exitCode } = await runWriterProcess(writerDir, config, ['append', 'last message'])
 */
export async function runWriterProcess (dir: string, config: Config, args: string[], timeoutMs = 120_000): Promise<ExitedWriter> {
  await saveConfig(configPath(dir), config)
  const started = performance.now()
  const child = spawn(process.execPath, [cliBin(), '--dir', dir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)))
  }).finally(() => clearTimeout(timer))
  const pid = child.pid!
  try {
    process.kill(pid, 0)
    throw new Error(`the writer's process ${pid} is still running`)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e
  }
  return { pid, exitCode, reason: stderr.trim().split('\n').at(-1) ?? '', ms: performance.now() - started }
}

/** Files in a local store that belong to its writers, not to the log: log heads and locks. */
function isStoreData (root: string, path: string): boolean {
  const parts = relative(root, path).split(sep)
  return !parts.some(part => part === 'log-heads' || part.endsWith('.lock'))
}

/**
 * A reader's config on a copy of the local folders `config` uses (local CAS blocks, local NS
 * names), taken now, without the writers' files (log heads, locks): a reader on it needs nothing
 * of the writer's. Undefined when `config` uses no local folder.
 * @example const copy = await copyLocalStore(config, join(root, 'store-copy'))
 */
export async function copyLocalStore (config: Config, to: string): Promise<{ config: Config, copied: string[] } | undefined> {
  const copied: string[] = []
  const copy = async (backend: Config['cas'], what: string): Promise<Config['cas']> => {
    if (backend.driver !== 'local' || typeof backend.path !== 'string') return backend
    const from = backend.path
    const target = join(to, what)
    await cp(from, target, { recursive: true, filter: path => isStoreData(from, path) })
    copied.push(what)
    return { ...backend, path: target }
  }
  const cas = await copy(config.cas, 'blocks')
  const ns = await copy(config.ns, 'names')
  return copied.length === 0 ? undefined : { config: { ...config, cas, ns }, copied }
}
