// The CLI's side of `remotelog daemon`: connects to the daemon's socket in the state dir and hands
// commands an endpoint whose methods are calls to it (see cli/daemon-protocol.ts). Loads no backend
// and none of the core's heavy modules, so a command through the daemon starts like `node -e 0`.
import { connect, type Socket } from 'node:net'
import { realpath, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { fail } from '../core/errors.js'
import type { CliEndpoint } from './context.js'
import { decode, encode, lineReader, PROTOCOL, SOCKET_NAME, STREAM_CREDIT, type DaemonHello } from './daemon-protocol.js'

/** How long a daemon has to answer `hello` before the command runs alone. */
const HELLO_MS = 5000

/** The daemon's socket of a state dir. */
export function socketPath (dir: string): string {
  return join(resolve(dir), SOCKET_NAME)
}

/**
 * Connects to a Unix socket; a path too long for one (about 100 bytes) is reached from its folder,
 * as the connect itself happens before `connect` returns.
 */
export function connectUnix (path: string): Socket {
  if (Buffer.byteLength(path) < 100) return connect(path)
  const cwd = process.cwd()
  process.chdir(dirname(path))
  try {
    return connect(basename(path))
  } finally {
    process.chdir(cwd)
  }
}

/** The socket when something listens on it; undefined for no socket file or a stale one (its daemon was killed). */
async function openSocket (path: string): Promise<Socket | undefined> {
  return await new Promise(resolve => {
    let socket: Socket
    try {
      socket = connectUnix(path)
    } catch {
      resolve(undefined)
      return
    }
    const onError = (): void => { socket.destroy(); resolve(undefined) }
    socket.once('error', onError)
    socket.once('connect', () => { socket.off('error', onError); resolve(socket) })
  })
}

/** What identifies one version of a file: device, inode, size and change time. */
export async function fileStamp (path: string): Promise<string | undefined> {
  const s = await stat(path, { bigint: true }).catch(() => undefined)
  return s === undefined ? undefined : `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`
}

type Item = { value: unknown } | { end: true } | { error: unknown }

interface Pending {
  method: string
  fns: Map<string, (...args: unknown[]) => unknown>
  resolve?: (value: unknown) => void
  reject?: (error: unknown) => void
  /** A stream's items not yet consumed, and the consumer waiting for one. */
  queue?: Item[]
  wake?: () => void
  cleanup: () => void
}

/** One connection to a daemon: numbered calls, callbacks, aborts, streams with credit. */
export class DaemonConnection {
  private nextId = 1
  private readonly calls = new Map<number, Pending>()
  private closed: Error | undefined
  private ending = false
  /** Resolves when the connection has closed (either side). */
  readonly whenClosed: Promise<void>

  constructor (private readonly socket: Socket, readonly path: string) {
    this.whenClosed = new Promise(resolve => socket.once('close', () => resolve()))
    socket.setNoDelay?.(true)
    socket.on('data', lineReader(m => this.receive(m), e => { this.gone(e); socket.destroy() }))
    socket.on('error', e => this.gone(e))
    socket.on('close', () => this.gone())
  }

  /** Calls `method` with `args`; its value, or its error as the daemon threw it. */
  async call (method: string, args: unknown[]): Promise<unknown> {
    return await new Promise((resolve, reject) => {
      const pending = this.start(method, args, { resolve, reject })
      if (pending === undefined) reject(this.closed)
    })
  }

  /** Calls a method that is an async generator: its items as they come (STREAM_CREDIT in flight at most). */
  async * stream (method: string, args: unknown[]): AsyncGenerator<unknown> {
    const pending: Partial<Pending> = { queue: [] }
    const id = this.start(method, args, pending)
    if (id === undefined) throw this.closed!
    const p = this.calls.get(id)!
    let finished = false
    let consumed = 0
    try {
      for (;;) {
        while (p.queue!.length === 0) await new Promise<void>(resolve => { p.wake = resolve })
        const item = p.queue!.shift()!
        if ('end' in item) { finished = true; return }
        if ('error' in item) { finished = true; throw item.error }
        yield item.value
        if (++consumed === STREAM_CREDIT / 2) {
          consumed = 0
          this.send({ id, credit: STREAM_CREDIT / 2 })
        }
      }
    } finally {
      p.cleanup()
      this.calls.delete(id)
      if (!finished && this.closed === undefined) this.send({ id, cancel: true })
    }
  }

  private start (method: string, args: unknown[], pending: Partial<Pending>): number | undefined {
    if (this.closed !== undefined) return undefined
    const id = this.nextId++
    const fns = new Map<string, (...args: unknown[]) => unknown>()
    const signals: AbortSignal[] = []
    const encoded = encode(args, { fn: (fn, path) => { fns.set(path, fn); return path }, signal: s => { signals.push(s) } })
    const onAbort = (): void => { this.send({ id, abort: true }) }
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true })
    this.calls.set(id, { ...pending, method, fns, cleanup: () => { for (const s of signals) s.removeEventListener('abort', onAbort) } })
    this.send({ id, method, args: encoded })
    if (signals.some(s => s.aborted)) onAbort()
    return id
  }

  private send (message: Record<string, unknown>): void {
    if (this.closed === undefined && !this.socket.destroyed) this.socket.write(JSON.stringify(message) + '\n')
  }

  private receive (m: Record<string, unknown>): void {
    const p = this.calls.get(m.id as number)
    if (p === undefined) return
    switch (m.t) {
      case 'callback': {
        const fn = p.fns.get(m.fn as string)
        try {
          fn?.(...(decode(m.args) as unknown[]))
        } catch {}
        return
      }
      case 'item':
        this.push(p, { value: decode(m.value) })
        return
      case 'end':
        this.push(p, { end: true })
        return
      case 'value':
      case 'error': {
        if (p.queue !== undefined) {
          this.push(p, m.t === 'error' ? { error: decode(m.error) } : { end: true })
          return
        }
        this.calls.delete(m.id as number)
        p.cleanup()
        if (m.t === 'value') p.resolve!(decode(m.value))
        else p.reject!(decode(m.error))
      }
    }
  }

  private push (p: Pending, item: Item): void {
    p.queue?.push(item)
    p.wake?.()
    p.wake = undefined
  }

  /** The daemon went away (or this side closed): every call waiting fails with UNAVAILABLE. */
  private gone (cause?: Error): void {
    if (this.closed !== undefined) return
    const during = [...new Set([...this.calls.values()].map(p => p.method))]
    this.closed = this.ending
      ? fail('UNAVAILABLE', 'the connection to the remotelog daemon is closed')
      : fail('UNAVAILABLE', `the remotelog daemon (${this.path}) went away${during.length > 0 ? ` during ${during.join(', ')}; that may or may not have been done: check with \`remotelog status\`, then run the command again (with no daemon running it runs alone)` : ''}`, { cause })
    for (const [id, p] of this.calls) {
      if (p.queue !== undefined) {
        this.push(p, { error: this.closed })
        continue
      }
      this.calls.delete(id)
      p.cleanup()
      p.reject!(this.closed)
    }
  }

  /** Closes the connection (the daemon and its endpoint stay up). */
  end (): void {
    this.ending = true
    this.socket.end()
    this.socket.unref()
  }
}

/** Connects to the daemon of a state dir and greets it; undefined when none answers. */
export async function daemonConnection (dir: string, options: { helloMs?: number } = {}): Promise<{ connection: DaemonConnection, hello: DaemonHello } | undefined> {
  const path = socketPath(dir)
  const socket = await openSocket(path)
  if (socket === undefined) return undefined
  const connection = new DaemonConnection(socket, path)
  let timer: NodeJS.Timeout | undefined
  try {
    const hello = await Promise.race([
      connection.call('hello', [{ protocol: PROTOCOL }]),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(fail('TIMEOUT', `no answer within ${(options.helloMs ?? HELLO_MS) / 1000} s`)), options.helloMs ?? HELLO_MS) })
    ]) as DaemonHello
    return { connection, hello }
  } catch (e) {
    connection.end()
    socket.destroy()
    throw e
  } finally {
    clearTimeout(timer)
  }
}

function warn (line: string): void {
  process.stderr.write(`remotelog: warning: ${line}\n`)
}

/**
 * The endpoint of a running daemon on this state dir, when one answers and serves the same config;
 * undefined otherwise (the command then runs alone). A daemon that does not answer, speaks another
 * protocol or opened the config before it changed gets a warning line.
 */
export async function connectDaemon (dir: string, configFile: string | undefined): Promise<CliEndpoint | undefined> {
  let connected
  try {
    connected = await daemonConnection(dir)
  } catch (e) {
    warn(`the daemon at ${socketPath(dir)} does not answer (${(e as Error).message.replace(/^\[remotelog\] /, '')}); running alone`)
    return undefined
  }
  if (connected === undefined) return undefined
  const { connection, hello } = connected
  const leave = (line?: string): undefined => {
    if (line !== undefined) warn(line)
    connection.end()
    return undefined
  }
  if (hello.protocol !== PROTOCOL) return leave(`the daemon (pid ${hello.pid}) runs remotelog ${hello.version}, which speaks another protocol: restart it (\`remotelog daemon stop\`, then \`remotelog daemon\`); running alone`)
  const config = configFile !== undefined ? resolve(configFile) : join(resolve(dir), 'config.json')
  const [real, stamp] = await Promise.all([realpath(config).catch(() => undefined), fileStamp(config)])
  // Another config file (--config): this command is not the daemon's to serve.
  if (real !== hello.config) return leave()
  if (stamp !== hello.configStamp) return leave(`the daemon (pid ${hello.pid}) opened ${hello.config} before it changed: restart it (\`remotelog daemon stop\`, then \`remotelog daemon\`); running alone`)
  return daemonEndpoint(connection, hello)
}

/** The Endpoint methods commands use, each a call to the daemon. */
function daemonEndpoint (connection: DaemonConnection, hello: DaemonHello): CliEndpoint {
  const call = <K extends keyof CliEndpoint>(method: K) =>
    (async (...args: unknown[]) => await connection.call(method, args)) as unknown as CliEndpoint[K]
  const stream = <K extends 'read' | 'watch'>(method: K) =>
    ((...args: unknown[]) => connection.stream(method, args)) as unknown as CliEndpoint[K]
  const exportPack = call('exportPack')
  const importPack = call('importPack')
  return {
    cas: { backend: hello.cas },
    ns: { backend: hello.ns },
    daemon: { pid: hello.pid, socket: connection.path },
    append: call('append'),
    publish: call('publish'),
    rebase: call('rebase'),
    address: call('address'),
    logs: call('logs'),
    logStatus: call('logStatus'),
    follow: call('follow'),
    unfollow: call('unfollow'),
    following: call('following'),
    sync: call('sync'),
    syncAll: call('syncAll'),
    scrub: call('scrub'),
    fsck: call('fsck'),
    read: stream('read'),
    watch: stream('watch'),
    // File names are the command's, relative to its working directory: the daemon gets them absolute.
    exportPack: async (source, out, options) => await exportPack(source, resolve(out), options),
    importPack: async (file, options) => await importPack(resolve(file), options),
    close: async () => { connection.end() }
  }
}
