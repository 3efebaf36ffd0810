// `remotelog daemon`: opens the state dir's endpoint once, with its backends (a Helia node, a
// Hypercore swarm…), and serves the CLI's calls on a Unix socket in the state dir (see
// cli/daemon-protocol.ts), so a command does not start a node of its own.
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { chmod, realpath, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { configPath } from '../config/config.js'
import { openEndpoint } from '../config/open-endpoint.js'
import { fail } from '../core/errors.js'
import { withFileLock } from '../core/file-lock.js'
import { daemonConnection, fileStamp } from './daemon-client.js'
import { CALLS, decode, encode, lineReader, PROTOCOL, SOCKET_NAME, STREAM_CREDIT, STREAMS, type DaemonHello, type DaemonStatus } from './daemon-protocol.js'
import { packageVersion } from './version.js'

export interface DaemonOptions {
  /** The state dir. */
  dir: string
  /** A config file instead of `<dir>/config.json`. */
  configFile?: string
}

export interface RunningDaemon {
  hello: DaemonHello
  socket: string
  /** Resolves once the daemon stopped (`stop`, or a client's `remotelog daemon stop`). */
  stopped: Promise<void>
  /** Stops accepting, lets running calls finish (up to `graceMs`), closes the endpoint. */
  stop: (graceMs?: number) => Promise<void>
}

/** A progress callback is sent at most this often (its last call always). */
const PROGRESS_MS = 50
const GRACE_MS = 10_000

/** A call in flight on one connection. */
interface Running {
  controller: AbortController
  /** Resolves when the call has answered. */
  done: Promise<void>
  /** For a stream: more items may be sent. */
  grant?: (n: number) => void
  /** For a stream: stop it, telling the client why when `error` is given. */
  cancel?: (error?: Error) => void
}

/** A daemon of another process answering on `socket`: its hello; undefined when none does. */
async function answering (dir: string): Promise<DaemonHello | undefined> {
  const connected = await daemonConnection(dir, { helloMs: 2000 }).catch(() => undefined)
  connected?.connection.end()
  return connected?.hello
}

function alreadyRunning (dir: string, other: DaemonHello): Error {
  return fail('CONFLICT', `a remotelog daemon (pid ${other.pid}) already serves ${dir}; stop it first: remotelog --dir ${dir} daemon stop`)
}

/** Listens on a Unix socket, reaching a path too long for one from its folder. */
async function listenUnix (server: Server, path: string): Promise<void> {
  const long = Buffer.byteLength(path) >= 100
  const cwd = process.cwd()
  // Only the user may connect (the state dir is 0700 too): no window where the socket is open to others.
  const umask = process.umask(0o077)
  try {
    if (long) process.chdir(dirname(path))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(long ? basename(path) : path, () => { server.off('error', reject); resolve() })
    })
  } finally {
    if (long) process.chdir(cwd)
    process.umask(umask)
  }
  await chmod(path, 0o600).catch(() => {})
}

/**
 * Starts a daemon on a state dir: refuses when another answers there, opens the endpoint, removes a
 * stale socket (a killed daemon's) and listens. Returns once clients can connect.
 */
export async function startDaemon (options: DaemonOptions): Promise<RunningDaemon> {
  const dir = resolve(options.dir)
  const socketPath = join(dir, SOCKET_NAME)
  const other = await answering(dir)
  if (other !== undefined) throw alreadyRunning(dir, other)
  const config = configPath(dir, options.configFile)
  const endpoint = await openEndpoint({ dir, configFile: options.configFile })
  const connections = new Set<Socket>()
  const running = new Set<Running>()
  const startedAt = new Date()
  let requests = 0
  let stopping: Promise<void> | undefined
  let resolveStopped!: () => void
  const stopped = new Promise<void>(resolve => { resolveStopped = resolve })
  let hello: DaemonHello
  const server = createServer(socket => serve(socket))
  try {
    hello = {
      protocol: PROTOCOL,
      pid: process.pid,
      version: packageVersion(),
      dir,
      config: await realpath(config),
      configStamp: (await fileStamp(config)) ?? '',
      cas: endpoint.cas.backend,
      ns: endpoint.ns.backend
    }
    // One daemon per state dir: the check and the listen under a lock, so two starting at once cannot both take the socket.
    await withFileLock(join(dir, 'locks', 'daemon.lock'), async () => {
      try {
        await listenUnix(server, socketPath)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e
        const again = await answering(dir)
        if (again !== undefined) throw alreadyRunning(dir, again)
        await unlink(socketPath).catch(() => {})
        await listenUnix(server, socketPath)
      }
    })
  } catch (e) {
    await endpoint.close()
    throw e
  }

  function status (): DaemonStatus {
    return { ...hello, socket: socketPath, startedAt: startedAt.toISOString(), uptimeMs: Date.now() - startedAt.getTime(), requests, active: running.size, connections: connections.size }
  }

  function serve (socket: Socket): void {
    if (stopping !== undefined) {
      socket.destroy()
      return
    }
    connections.add(socket)
    socket.setNoDelay?.(true)
    const calls = new Map<number, Running>()
    const send = (message: Record<string, unknown>): boolean => socket.destroyed || socket.write(JSON.stringify(message) + '\n')
    /** Sends what `make` builds; a value that cannot be sent becomes the call's error, never the daemon's. */
    const sendSafely = (id: number, make: () => Record<string, unknown>): boolean => {
      try {
        return send(make())
      } catch (e) {
        return send({ id, t: 'error', error: encode(fail('MALFORMED', `the daemon cannot send the answer: ${(e as Error).message}`)) })
      }
    }
    /** Resolves when the socket can take more (false when it closed). */
    const writable = async (): Promise<boolean> => {
      if (socket.destroyed) return false
      const closed = once(socket, 'close').then(() => false)
      return await Promise.race([once(socket, 'drain').then(() => true), closed])
    }
    socket.on('data', lineReader(m => {
      const id = m.id as number
      if (typeof m.method === 'string') {
        const call = start(id, m.method, m.args)
        calls.set(id, call)
        void call.done.then(() => calls.delete(id))
      } else if (m.abort === true) {
        calls.get(id)?.controller.abort()
      } else if (typeof m.credit === 'number') {
        calls.get(id)?.grant?.(m.credit)
      } else if (m.cancel === true) {
        calls.get(id)?.cancel?.()
      }
    }, () => socket.destroy()))
    socket.on('error', () => {})
    socket.on('close', () => {
      connections.delete(socket)
      // The client is gone (done, Ctrl-C, killed): stop what it started that can be stopped.
      for (const call of calls.values()) {
        call.controller.abort()
        call.cancel?.()
      }
    })

    function start (id: number, method: string, args: unknown): Running {
      const controller = new AbortController()
      const progress = new Map<string, { args: unknown[], timer?: NodeJS.Timeout, last: number }>()
      const callback = (key: string) => (...values: unknown[]): void => {
        if (!key.endsWith('onProgress')) {
          sendSafely(id, () => ({ id, t: 'callback', fn: key, args: encode(values) }))
          return
        }
        // Progress comes per message: send the latest, at most every PROGRESS_MS.
        const p = progress.get(key) ?? { args: values, last: 0 }
        p.args = values
        progress.set(key, p)
        const now = Date.now()
        if (now - p.last >= PROGRESS_MS) {
          clearTimeout(p.timer)
          p.timer = undefined
          p.last = now
          sendSafely(id, () => ({ id, t: 'callback', fn: key, args: encode(values) }))
        } else if (p.timer === undefined) {
          p.timer = setTimeout(() => { p.timer = undefined; p.last = Date.now(); sendSafely(id, () => ({ id, t: 'callback', fn: key, args: encode(p.args) })) }, PROGRESS_MS - (now - p.last))
        }
      }
      const flushProgress = (): void => {
        for (const [key, p] of progress) {
          if (p.timer === undefined) continue
          clearTimeout(p.timer)
          sendSafely(id, () => ({ id, t: 'callback', fn: key, args: encode(p.args) }))
        }
        progress.clear()
      }
      const call: Running = { controller, done: Promise.resolve() }
      // The daemon's own questions (hello, daemon.status, daemon.stop) are not calls it runs for a command.
      if (method !== 'hello' && !method.startsWith('daemon.')) running.add(call)
      call.done = (async () => {
        try {
          const decoded = decode(args, { fn: callback, signal: () => controller.signal })
          if (!Array.isArray(decoded)) throw fail('INVALID_INPUT', 'a call\'s args must be an array')
          if ((STREAMS as readonly string[]).includes(method)) {
            requests++
            await pump(id, call, (endpoint[method as typeof STREAMS[number]] as (...a: unknown[]) => AsyncGenerator<unknown>).apply(endpoint, decoded))
            return
          }
          const value = await invoke(method, decoded)
          flushProgress()
          sendSafely(id, () => ({ id, t: 'value', value: encode(value) }))
        } catch (e) {
          flushProgress()
          sendSafely(id, () => ({ id, t: 'error', error: encode(e) }))
        } finally {
          running.delete(call)
        }
      })()
      return call
    }

    /** Sends a generator's items as the client's credit allows; stops it when cancelled. */
    async function pump (id: number, call: Running, iterator: AsyncGenerator<unknown>): Promise<void> {
      let credit = STREAM_CREDIT
      let cancelled: { error?: Error } | undefined
      let wake: (() => void) | undefined
      call.grant = n => { credit += n; wake?.() }
      call.cancel = error => {
        cancelled ??= { error }
        call.controller.abort()
        wake?.()
      }
      try {
        for (;;) {
          while (credit <= 0 && cancelled === undefined) await new Promise<void>(resolve => { wake = resolve })
          if (cancelled !== undefined) break
          const next = await iterator.next()
          if (next.done === true || cancelled !== undefined) break
          credit--
          if (!sendSafely(id, () => ({ id, t: 'item', value: encode(next.value) })) && !await writable()) break
        }
        if (cancelled?.error !== undefined) send({ id, t: 'error', error: encode(cancelled.error) })
        else if (cancelled === undefined) send({ id, t: 'end' })
      } catch (e) {
        sendSafely(id, () => ({ id, t: 'error', error: encode(cancelled?.error ?? e) }))
      } finally {
        await iterator.return(undefined).catch(() => {})
      }
    }
  }

  async function invoke (method: string, args: unknown[]): Promise<unknown> {
    switch (method) {
      case 'hello': return hello
      case 'daemon.status': return status()
      case 'daemon.stop':
        setImmediate(() => { void stop() })
        return status()
      case 'fsck': {
        requests++
        const { fsck } = await import('../core/fsck.js')
        return await fsck(endpoint, args[0] as Parameters<typeof fsck>[1])
      }
    }
    if (!(CALLS as readonly string[]).includes(method)) throw fail('INVALID_INPUT', `the daemon has no method "${method}"`)
    requests++
    return await (endpoint[method as typeof CALLS[number]] as (...a: unknown[]) => Promise<unknown>).apply(endpoint, args)
  }

  async function stop (graceMs = GRACE_MS): Promise<void> {
    stopping ??= (async () => {
      // No new clients; the socket file goes with the listener.
      server.close()
      await unlink(socketPath).catch(() => {})
      // Live follows and reads end now, telling their clients; other calls may finish.
      const gone = fail('UNAVAILABLE', 'the remotelog daemon stopped; run the command again (with no daemon running it runs alone)')
      for (const call of running) call.cancel?.(gone)
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...running].map(async c => await c.done)),
        new Promise(resolve => { timer = setTimeout(resolve, graceMs) })
      ])
      clearTimeout(timer)
      for (const call of running) call.controller.abort()
      // Closed before the clients are let go: once `daemon stop` sees its connection close, the backends are free.
      await endpoint.close().catch(() => {})
      for (const socket of connections) socket.end()
      resolveStopped()
    })()
    await stopping
  }

  return { hello, socket: socketPath, stopped, stop }
}
