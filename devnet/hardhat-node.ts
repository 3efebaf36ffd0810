import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fail } from '../core/errors.js'
import { childModule } from './child-module.js'

export interface HardhatNodeOptions {
  /** Port on 127.0.0.1; 0 (default) lets the system pick a free one. */
  port?: number
  /** How long to wait for the node to answer. Default 30 s. */
  timeoutMs?: number
}

/** A running `hardhat node`. */
export interface HardhatNode {
  /** JSON-RPC URL, e.g. `http://127.0.0.1:41234`. */
  url: string
  port: number
  pid: number
  /** Stops the node and waits for its process to end. */
  stop: () => Promise<void>
}

const MAIN = childModule(import.meta.url, 'hardhat-node-main')
const READY = /JSON-RPC server at (http:\/\/127\.0\.0\.1:(\d+))\//

/**
 * Starts `hardhat node` (Hardhat Network behind its HTTP JSON-RPC server, configured by
 * `hardhatConfig`) in a child process listening on 127.0.0.1, and resolves once it listens. The
 * child ends with `stop()`, when this process exits, and on its own if this process is killed.
 * @example
 * const node = await startHardhatNode()
 * const ens = await deployEns({ rpcUrl: node.url })
 * await node.stop()
 */
export async function startHardhatNode (options: HardhatNodeOptions = {}): Promise<HardhatNode> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const child = spawn(process.execPath, [...MAIN.args, String(options.port ?? 0)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', FORCE_COLOR: '0', NO_COLOR: '1' }
  })
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)

  let output = ''
  const exited = once(child, 'exit')
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit)
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(fail('TIMEOUT', `hardhat node did not start within ${timeoutMs} ms: ${output.slice(-500)}`, { backend: 'ens' })), timeoutMs)
      const onData = (chunk: Buffer): void => {
        output += chunk.toString()
        const match = READY.exec(output)
        if (match !== null) {
          clearTimeout(timer)
          resolve(Number(match[2]))
        }
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
      child.once('error', (cause) => { clearTimeout(timer); reject(fail('UNAVAILABLE', 'cannot start hardhat node', { backend: 'ens', cause })) })
      child.once('exit', (code) => { clearTimeout(timer); reject(fail('UNAVAILABLE', `hardhat node exited (${String(code)}): ${output.slice(-500)}`, { backend: 'ens' })) })
    })
    // Keep draining its output so a chatty node never blocks on a full pipe.
    child.stdout.removeAllListeners('data')
    child.stderr.removeAllListeners('data')
    child.stdout.resume()
    child.stderr.resume()
    return { url: `http://127.0.0.1:${port}`, port, pid: child.pid!, stop }
  } catch (e) {
    await stop()
    throw e
  }
}
