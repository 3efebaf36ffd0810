import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './temp-dir.js'

const bin = fileURLToPath(new URL('../../bin/remotelog.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the remotelog CLI in a child process, as a user would. */
export async function runCli (args: string[], options: { env?: Record<string, string>, input?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(options.input ?? '')
  return await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** Runs the CLI and fails with its stderr unless it exits 0. */
export async function cli (args: string[], options: { env?: Record<string, string>, input?: string } = {}): Promise<string> {
  const result = await runCli(args, options)
  if (result.code !== 0) throw new Error(`remotelog ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr}`)
  return result.stdout
}

/** Two initialised state dirs, alice and bob, sharing one embedded store in a temp folder. */
export async function twoEndpoints (): Promise<{ env: Record<string, string>, alice: string, bob: string }> {
  const root = await tempDir()
  const env = { REMOTELOG_STORE: join(root, 'store') }
  const alice = join(root, 'alice')
  const bob = join(root, 'bob')
  await cli(['--dir', alice, 'init'], { env })
  await cli(['--dir', bob, 'init'], { env })
  return { env, alice, bob }
}
