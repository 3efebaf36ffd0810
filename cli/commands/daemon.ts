import type { Command } from 'commander'
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fail } from '../../core/errors.js'
import { checkStateDir, globals, output } from '../context.js'
import { daemonConnection, socketPath } from '../daemon-client.js'
import type { DaemonHello, DaemonStatus } from '../daemon-protocol.js'
import { formatSeconds } from '../progress.js'
import { waitForSignal } from '../wait-for-signal.js'

/** How long `daemon start --detach` waits for the daemon to answer (a Helia node or a swarm may take a while). */
const DETACH_WAIT_MS = 120_000

function notRunning (dir: string): Error {
  return fail('UNAVAILABLE', `no daemon serves ${resolve(dir)} (nothing answers on ${socketPath(dir)}); start one: remotelog daemon`)
}

function describe (s: DaemonStatus): string {
  return [
    `daemon pid ${s.pid} (remotelog ${s.version}) serves ${s.dir} on ${s.socket}`,
    `backends: cas ${s.cas}, ns ${s.ns}; config ${s.config}`,
    `up ${formatSeconds(s.uptimeMs / 1000)}, ${s.requests} request(s) served, ${s.active} running, ${s.connections} client(s) connected`
  ].join('\n')
}

function started (h: DaemonHello, socket: string): string {
  return `remotelog daemon (pid ${h.pid}) serves ${h.dir} on ${socket}: cas ${h.cas}, ns ${h.ns}\n` +
    'commands on this state dir go through it now; Ctrl-C or `remotelog daemon stop` stops it'
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Runs this command again in a detached process writing to `<dir>/daemon.log`; returns once it answers. */
async function detach (dir: string, json: boolean): Promise<void> {
  const log = join(resolve(dir), 'daemon.log')
  const fd = openSync(log, 'a', 0o600)
  const from = statSync(log).size
  const args = process.argv.slice(2).filter(a => a !== '--detach')
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { detached: true, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  let exit: number | undefined
  child.once('exit', (code) => { exit = code ?? 1 })
  child.unref()
  const deadline = Date.now() + DETACH_WAIT_MS
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      // It could not start (another daemon runs, a bad config…): its own error lines, from the log.
      const lines = readFileSync(log).subarray(from).toString('utf8').split('\n').filter(l => l !== '')
      for (const line of lines) (line.startsWith('{') ? process.stdout : process.stderr).write(line + '\n')
      if (lines.length === 0) process.stderr.write(`remotelog: the daemon exited with status ${exit} (see ${log})\n`)
      process.exitCode = exit === 0 ? 1 : exit
      return
    }
    const connected = await daemonConnection(dir, { helloMs: 2000 }).catch(() => undefined)
    connected?.connection.end()
    if (connected !== undefined && connected.hello.pid === child.pid) {
      const h = connected.hello
      process.stdout.write(json ? JSON.stringify({ ...h, socket: socketPath(dir), log }) + '\n' : `${started(h, socketPath(dir))}\n(in the background; output in ${log})\n`)
      return
    }
    await sleep(50)
  }
  throw fail('TIMEOUT', `the daemon (pid ${child.pid}) did not answer within ${DETACH_WAIT_MS / 1000} s; see ${log}`)
}

/** `remotelog daemon [start [--detach]] | status | stop`. */
export function registerDaemon (program: Command): void {
  const daemon = program.command('daemon')
    .description('keep this state dir\'s endpoint and backends open (a Helia node, a Hypercore swarm…): while it runs, commands go through it instead of starting their own')
    .addHelpText('after', `
While a daemon runs on a state dir, append, publish, address, follow, unfollow, sync, read, status,
scrub, export, import and fsck on that dir send their calls to it over <dir>/daemon.sock (only the
user can connect); with none running (or a stale socket left by a killed one) they run alone.
A daemon opened with an earlier config.json (init --force since) is not used: restart it.`)

  daemon.command('start', { isDefault: true })
    .description('run the daemon (the default): in the foreground until Ctrl-C or SIGTERM, or in the background with --detach')
    .option('--detach', 'run in the background (output to <dir>/daemon.log); returns once it answers')
    .action(async (options: { detach?: boolean }, command: Command) => {
      const g = globals(command)
      await checkStateDir(g.dir)
      if (options.detach === true) {
        await detach(g.dir, g.json)
        return
      }
      const { startDaemon } = await import('../daemon-server.js')
      const running = await startDaemon({ dir: g.dir, configFile: g.configFile })
      output(g, { ...running.hello, socket: running.socket }, h => started(h, running.socket))
      await Promise.race([waitForSignal(), running.stopped])
      await running.stop()
      if (!g.json) process.stdout.write(`remotelog daemon (pid ${process.pid}) stopped\n`)
    })

  daemon.command('status')
    .description('whether a daemon serves this state dir: its pid, backends, uptime and requests served (exit 9 when none)')
    .action(async (_options: unknown, command: Command) => {
      const g = globals(command)
      await checkStateDir(g.dir)
      const connected = await daemonConnection(g.dir).catch(() => undefined)
      if (connected === undefined) throw notRunning(g.dir)
      try {
        output(g, await connected.connection.call('daemon.status', []) as DaemonStatus, describe)
      } finally {
        connected.connection.end()
      }
    })

  daemon.command('stop')
    .description('stop the daemon of this state dir: running calls finish first (exit 9 when none runs)')
    .action(async (_options: unknown, command: Command) => {
      const g = globals(command)
      await checkStateDir(g.dir)
      const connected = await daemonConnection(g.dir).catch(() => undefined)
      if (connected === undefined) throw notRunning(g.dir)
      const { connection, hello } = connected
      const s = await connection.call('daemon.stop', []) as DaemonStatus
      // It closes the connection once its endpoint is closed; then waits for the process to end.
      await connection.whenClosed
      for (let i = 0; i < 200 && alive(hello.pid); i++) await sleep(50)
      output(g, { stopped: hello.pid, requests: s.requests }, v => `stopped the daemon (pid ${v.stopped}); it served ${v.requests} request(s)`)
    })
}
