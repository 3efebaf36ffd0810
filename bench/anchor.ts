// Anchors (issue 16): plain Hypercore and remotelog side by side, in one process tree and one run.
// Every writer and reader is its own process (this file, re-run with `--role …`); the parent only
// starts them, times what they report and prints each remotelog figure with its ratio to plain
// Hypercore's. Figures:
// - append one 256-byte message at a time (N_SINGLE), and in batches of 100 (N_CATCH_UP messages):
//   plain Hypercore appends blocks; remotelog appends + publishes (what a chat app does);
// - a fresh reader in another process catching up N_CATCH_UP messages: plain Hypercore over a raw TCP
//   socket (download and read every block); remotelog follow + sync;
// - live follow: the parent asks the writer for one more message and times until the reader, which
//   follows live, reports it (both IPC hops included, for every system alike);
// - bytes written per published 256-byte message: what remotelog's CAS stores (bytes put), against
//   the growth of plain Hypercore's storage folder per block.
// Equal durability: plain Hypercore does not fsync an append, so remotelog runs with
// `durability: 'process'` beside it; the fsync default has its own rows (publishing only).
// remotelog setups: local (on-disk CAS and NS), Helia + Hypercore (bitswap between the writer's and
// the reader's Helia, names on a DHT testnet on 127.0.0.1), and the service (`remotelog serve` in its
// own process, local backends behind it). `--quick` runs smaller counts; `--json` prints JSON.
import '../core/node-compat.js'
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { percentile, report, since, type Figure } from './support.js'

const quick = process.argv.includes('--quick')
const N_SINGLE = quick ? 200 : 1_000
const N_CATCH_UP = quick ? 2_000 : 10_000
const BATCH = 100
const LIVE = quick ? 30 : 100
const WARMUP = 5
const MESSAGE_BYTES = 256
const script = fileURLToPath(import.meta.url)
const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))

const payload = (): Buffer => randomBytes(MESSAGE_BYTES)

// ---------------------------------------------------------------------------------------------
// Roles: one process each, driven by the parent over IPC ({ id, cmd, args } → { id, result | error }).

type Handlers = Record<string, (args: any) => Promise<unknown>>

function serve (handlers: Handlers): void {
  process.on('message', (message: { id: number, cmd: string, args?: unknown }) => {
    void (async () => {
      try {
        if (message.cmd === 'exit') {
          await handlers.close?.(undefined)
          process.send!({ id: message.id, result: null }, () => process.exit(0))
          return
        }
        const handler = handlers[message.cmd]
        if (handler === undefined) throw new Error(`no command ${message.cmd}`)
        process.send!({ id: message.id, result: await handler(message.args) })
      } catch (error) {
        process.send!({ id: message.id, error: error instanceof Error ? error.stack ?? error.message : String(error) })
      }
    })()
  })
  process.send!({ ready: true })
}

/** Tells the parent a reader now holds `length` messages. */
function seen (length: number): void {
  process.send!({ event: 'seen', value: length })
}

/** Bytes of every file under `dir` (what a storage folder holds on disk, apparent sizes). */
async function folderBytes (dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size
  }
  return total
}

/** Bytes this process passed to write(2) and friends so far (`wchar` of /proc/self/io: files, pipes, sockets). */
async function writtenBytes (): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const io = await readFile('/proc/self/io', 'utf8').catch(() => '')
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? NaN)
}

/** Plain Hypercore writer: a Corestore with two cores, served to readers over raw TCP. */
async function hypercoreWriter (dir: string): Promise<void> {
  const { default: Corestore } = await import('corestore')
  // Untyped here: types/hypercore.d.ts declares only what the adapter uses (no named cores, no raw replicate).
  const store: any = new Corestore(dir)
  await store.ready()
  const single = store.get({ name: 'single' })
  const batch = store.get({ name: 'batch' })
  await Promise.all([single.ready(), batch.ready()])
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    socket.setNoDelay(true)
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const stream = store.replicate(false)
    pipeline(socket, stream, socket, () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  serve({
    async info () {
      return { key: batch.key.toString('hex'), port: (server.address() as { port: number }).port, length: batch.length }
    },
    async single ({ n }: { n: number }) {
      const before = await folderBytes(dir)
      const written = await writtenBytes()
      const start = performance.now()
      for (let i = 0; i < n; i++) await single.append(payload())
      const ms = since(start)
      // RocksDB's write-ahead log takes every write at once: the folder's growth is what the appends wrote.
      return { ms, bytes: (await folderBytes(dir)) - before, written: (await writtenBytes()) - written }
    },
    async batch ({ n, size }: { n: number, size: number }) {
      const start = performance.now()
      for (let sent = 0; sent < n; sent += size) await batch.append(Array.from({ length: size }, payload))
      return { ms: since(start), length: batch.length }
    },
    async live () {
      await batch.append(payload())
      return batch.length
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      server.close()
      await store.close()
    }
  })
}

/** Plain Hypercore reader: a fresh Corestore that replicates one core over TCP. */
async function hypercoreReader (dir: string): Promise<void> {
  const { default: Corestore } = await import('corestore')
  const store: any = new Corestore(dir)
  await store.ready()
  let socket: Socket | undefined
  let core: any
  serve({
    async catchUp ({ key, port, length }: { key: string, port: number, length: number }) {
      const start = performance.now()
      core = store.get({ key: Buffer.from(key, 'hex') })
      await core.ready()
      const connected = once(core, 'peer-add')
      socket = connect(port, '127.0.0.1')
      socket.setNoDelay(true)
      const stream = store.replicate(true)
      pipeline(socket, stream, socket, () => {})
      await connected
      await core.update({ wait: true })
      if (core.length < length) throw new Error(`the reader sees ${core.length} blocks, expected ${length}`)
      await core.download({ start: 0, end: core.length }).done()
      let bytes = 0
      for (let i = 0; i < core.length; i++) bytes += (await core.get(i)).byteLength
      return { ms: since(start), length: core.length, bytes, rss: process.memoryUsage().rss }
    },
    async follow () {
      let next = core.length
      let reading = false
      const read = async (): Promise<void> => {
        if (reading) return
        reading = true
        try {
          while (next < core.length) {
            await core.get(next)
            seen(++next)
          }
        } finally {
          reading = false
        }
      }
      core.on('append', () => { void read() })
      core.download({ start: 0, end: -1 })
      return next
    },
    async close () {
      socket?.destroy()
      await store.close()
    }
  })
}

/** A remotelog endpoint (writer or reader) with its CAS wrapped to count the bytes it stores. */
async function remotelogEndpoint (dir: string, config: any): Promise<{ endpoint: import('../core/endpoint.js').Endpoint, counts: import('../core/counting.js').RequestCounts, raw: unknown, close: () => Promise<void> }> {
  const { openCas, openNs } = await import('../adapters/registry.js')
  const { countingCas, emptyCounts } = await import('../core/counting.js')
  const { Endpoint } = await import('../core/endpoint.js')
  const context = { stateDir: dir, durability: config.durability }
  const raw = await openCas(config.cas, context)
  const ns = await openNs(config.ns, context)
  const counts = emptyCounts()
  const endpoint = await Endpoint.open({ dir, cas: countingCas(raw, counts), ns, log: config.log, durability: config.durability })
  return {
    endpoint,
    counts,
    raw,
    close: async () => {
      await endpoint.close()
      await raw.close()
      await ns.close()
    }
  }
}

async function remotelogWriter (dir: string, config: unknown): Promise<void> {
  const { endpoint, counts, raw, close } = await remotelogEndpoint(dir, config)
  const publishAll = async (n: number, size: number, log: string): Promise<{ ms: number, casBytes: number, casPuts: number, written: number }> => {
    const bytes = counts.bytesOut
    const puts = counts.casPuts
    const written = await writtenBytes()
    const start = performance.now()
    for (let sent = 0; sent < n; sent += size) {
      await endpoint.append(Array.from({ length: size }, payload), { log })
      await endpoint.publish({ log })
    }
    return { ms: since(start), casBytes: counts.bytesOut - bytes, casPuts: counts.casPuts - puts, written: (await writtenBytes()) - written }
  }
  serve({
    async single ({ n }: { n: number }) { return await publishAll(n, 1, 'single') },
    async batch ({ n, size }: { n: number, size: number }) { return await publishAll(n, size, 'batch') },
    async address () { return await endpoint.address('batch') },
    async multiaddrs () {
      const helia = raw as { multiaddrs?: () => string[] }
      return typeof helia.multiaddrs === 'function' ? helia.multiaddrs() : []
    },
    async live () {
      await endpoint.append([payload()], { log: 'batch' })
      return (await endpoint.publish({ log: 'batch' }))?.length
    },
    async close () { await close() }
  })
}

async function remotelogReader (dir: string, config: unknown): Promise<void> {
  const { endpoint, close } = await remotelogEndpoint(dir, config)
  const controller = new AbortController()
  let following: Promise<void> | undefined
  serve({
    async catchUp ({ address }: { address: string }) {
      await endpoint.follow(address, 'alice')
      const start = performance.now()
      const report = await endpoint.sync('alice')
      return { ms: since(start), length: report.length, delivered: report.delivered, casRequests: report.casRequests, rss: process.memoryUsage().rss }
    },
    async follow () {
      following = (async () => {
        for await (const report of endpoint.watch('alice', { signal: controller.signal })) seen(report.length)
      })().catch(error => { if (!controller.signal.aborted) console.error('live follow failed:', error) })
      return null
    },
    async close () {
      controller.abort()
      await following
      await close()
    }
  })
}

// ---------------------------------------------------------------------------------------------
// The parent: starts the processes and collects figures.

const dirs: string[] = []
async function temp (label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `remotelog-anchor-${label}-`))
  dirs.push(dir)
  return dir
}

/** A role process and a typed call into it. */
class Role {
  private next = 0
  private readonly pending = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  private readonly listeners = new Set<(value: number) => void>()
  latest = 0

  private constructor (readonly name: string, readonly child: ChildProcess) {
    child.on('message', (message: { id?: number, result?: unknown, error?: string, event?: string, value?: number }) => {
      if (message.event === 'seen') {
        this.latest = Math.max(this.latest, message.value!)
        for (const listener of this.listeners) listener(this.latest)
        return
      }
      if (message.id === undefined) return
      const waiter = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.error !== undefined) waiter?.reject(new Error(`${name}: ${message.error}`))
      else waiter?.resolve(message.result)
    })
    child.on('exit', code => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited (${String(code)})`))
      this.pending.clear()
    })
  }

  static async start (name: string, role: string, args: unknown[]): Promise<Role> {
    const child = fork(script, ['--role', role, ...args.map(a => JSON.stringify(a))], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const [message] = await Promise.race([
      once(child, 'message') as Promise<[{ ready?: boolean }]>,
      once(child, 'exit').then(([code]) => { throw new Error(`${name} exited (${String(code)}) before it was ready`) })
    ])
    if (message.ready !== true) throw new Error(`${name} did not start`)
    return new Role(name, child)
  }

  async call<T = any> (cmd: string, args?: unknown): Promise<T> {
    const id = this.next++
    const answer = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve, reject }))
    this.child.send({ id, cmd, args })
    return await answer
  }

  /** Resolves once the reader reported holding at least `length` messages. */
  async seen (length: number, timeoutMs = 30_000): Promise<void> {
    if (this.latest >= length) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.listeners.delete(listener); reject(new Error(`${this.name} did not see ${length} messages within ${timeoutMs} ms (it has ${this.latest})`)) }, timeoutMs)
      const listener = (value: number): void => {
        if (value < length) return
        clearTimeout(timer)
        this.listeners.delete(listener)
        resolve()
      }
      this.listeners.add(listener)
    })
  }

  async stop (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 15_000)
    await this.call('exit').catch(() => {})
    await exited
    clearTimeout(kill)
  }
}

/** Live follow: the parent asks the writer for one more message and waits until the reader has it. */
async function liveLatency (writer: Role, reader: Role): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < WARMUP + LIVE; i++) {
    const start = performance.now()
    const length = await writer.call<number>('live')
    await reader.seen(length)
    if (i >= WARMUP) samples.push(since(start))
  }
  return samples
}

interface Run {
  single: { ms: number, bytes: number, written: number }
  batch: { ms: number }
  catchUp: { ms: number, rss: number }
  live: number[]
}

interface RemotelogRun {
  single: { ms: number, casBytes: number, casPuts: number, written: number }
  batch: { ms: number, casBytes: number, written: number }
  catchUp?: { ms: number, rss: number, casRequests: number }
  live?: number[]
}

async function plainHypercore (): Promise<Run> {
  const writer = await Role.start('hypercore writer', 'hc-writer', [await temp('hc-writer')])
  try {
    const one = await writer.call('single', { n: N_SINGLE })
    const batch = await writer.call('batch', { n: N_CATCH_UP, size: BATCH })
    const info = await writer.call('info')
    const reader = await Role.start('hypercore reader', 'hc-reader', [await temp('hc-reader')])
    try {
      const catchUp = await reader.call('catchUp', { ...info, length: N_CATCH_UP })
      if (catchUp.length !== N_CATCH_UP) throw new Error(`hypercore reader caught up ${catchUp.length as number}`)
      reader.latest = await reader.call('follow')
      const live = await liveLatency(writer, reader)
      return { single: one, batch, catchUp, live }
    } finally {
      await reader.stop()
    }
  } finally {
    await writer.stop()
  }
}

interface Setup {
  label: string
  /** The config of a writer or reader endpoint; `durability` is the writer's. */
  config: (role: 'writer' | 'reader', durability: 'fsync' | 'process', writer?: Role) => Promise<Record<string, unknown>>
}

async function remotelog (setup: Setup, durability: 'fsync' | 'process', withReader: boolean): Promise<RemotelogRun> {
  const writer = await Role.start(`${setup.label} writer`, 'rl-writer', [await temp('rl-writer'), await setup.config('writer', durability)])
  try {
    const single = await writer.call('single', { n: N_SINGLE })
    const batch = await writer.call('batch', { n: N_CATCH_UP, size: BATCH })
    if (!withReader) return { single, batch }
    const address = await writer.call<string>('address')
    const reader = await Role.start(`${setup.label} reader`, 'rl-reader', [await temp('rl-reader'), await setup.config('reader', durability, writer)])
    try {
      const catchUp = await reader.call('catchUp', { address })
      if (catchUp.length !== N_CATCH_UP) throw new Error(`${setup.label} reader caught up ${catchUp.length as number} of ${N_CATCH_UP}`)
      reader.latest = catchUp.length
      await reader.call('follow')
      const live = await liveLatency(writer, reader)
      return { single, batch, catchUp, live }
    } finally {
      await reader.stop()
    }
  } finally {
    await writer.stop()
  }
}

/** `remotelog init` + `remotelog serve --port 0` in their own processes; resolves with its URL. */
async function startService (): Promise<{ url: string, stop: () => Promise<void> }> {
  const root = await temp('service')
  const env = { ...process.env, REMOTELOG_STORE: join(root, 'store') }
  const dir = join(root, 'server')
  const init = spawn(process.execPath, [bin, '--dir', dir, 'init'], { env, stdio: 'ignore' })
  const [code] = await once(init, 'close') as [number]
  if (code !== 0) throw new Error(`remotelog init exited ${code}`)
  const child = spawn(process.execPath, [bin, '--dir', dir, '--json', 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return {
    url: (JSON.parse(line.toString()) as { url: string }).url,
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'close')
    }
  }
}

async function main (): Promise<void> {
  const { startHypercoreTestnet } = await import('../devnet/hypercore-testnet.js')
  const testnet = await startHypercoreTestnet()
  const service = await startService()
  const figures: Figure[] = []
  const started = performance.now()
  try {
    const localStore = await temp('local-store')
    const setups: Setup[] = [
      {
        label: 'local',
        config: async (_role, durability) => ({
          cas: { driver: 'local', path: join(localStore, 'blocks') },
          ns: { driver: 'local', path: join(localStore, 'names') },
          durability
        })
      },
      {
        label: 'Helia+Hypercore',
        config: async (role, durability, writer) => ({
          cas: { driver: 'helia', offline: false, timeoutMs: 10_000, ...(role === 'reader' ? { peers: await writer!.call('multiaddrs') } : {}) },
          ns: { driver: 'hypercore', bootstrap: testnet.bootstrap, timeoutMs: 10_000 },
          durability
        })
      },
      {
        label: 'service',
        config: async (_role, durability) => ({
          cas: { driver: 'twirp', url: service.url },
          ns: { driver: 'twirp', url: service.url },
          durability
        })
      }
    ]

    const hc = await plainHypercore()
    const rate = (n: number, ms: number): number => n / (ms / 1000)
    const H = {
      single: 'plain Hypercore: append 1 block at a time',
      batch: `plain Hypercore: append in batches of ${BATCH}`,
      catchUp: `plain Hypercore: fresh reader catches up ${N_CATCH_UP.toLocaleString('en-US')} blocks (TCP)`,
      p50: 'plain Hypercore: live follow p50',
      p95: 'plain Hypercore: live follow p95',
      bytes: 'plain Hypercore: storage bytes written per 256 B block (RocksDB log growth)',
      written: 'plain Hypercore: writer process write() bytes per 256 B block',
      rss: 'plain Hypercore: reader RSS after catch-up'
    }
    figures.push(
      { name: H.single, value: rate(N_SINGLE, hc.single.ms), unit: 'msg/s' },
      { name: H.batch, value: rate(N_CATCH_UP, hc.batch.ms), unit: 'msg/s' },
      { name: H.catchUp, value: hc.catchUp.ms, unit: 'ms' },
      { name: H.p50, value: percentile(hc.live, 50), unit: 'ms' },
      { name: H.p95, value: percentile(hc.live, 95), unit: 'ms' },
      { name: H.bytes, value: hc.single.bytes / N_SINGLE, unit: 'B' },
      { name: H.written, value: hc.single.written / N_SINGLE, unit: 'B' },
      { name: H.rss, value: hc.catchUp.rss / 2 ** 20, unit: 'MiB' }
    )

    for (const setup of setups) {
      const run = await remotelog(setup, 'process', true)
      const fsync = await remotelog(setup, 'fsync', false)
      const l = setup.label
      figures.push(
        { name: `${l} (durability process): append+publish 1 message at a time`, value: rate(N_SINGLE, run.single.ms), unit: 'msg/s', baseline: H.single },
        { name: `${l} (fsync, the default): append+publish 1 message at a time`, value: rate(N_SINGLE, fsync.single.ms), unit: 'msg/s', baseline: H.single },
        { name: `${l} (durability process): append+publish in batches of ${BATCH}`, value: rate(N_CATCH_UP, run.batch.ms), unit: 'msg/s', baseline: H.batch },
        { name: `${l} (fsync, the default): append+publish in batches of ${BATCH}`, value: rate(N_CATCH_UP, fsync.batch.ms), unit: 'msg/s', baseline: H.batch },
        { name: `${l}: fresh reader catches up ${N_CATCH_UP.toLocaleString('en-US')} messages (another process)`, value: run.catchUp!.ms, unit: 'ms', baseline: H.catchUp },
        { name: `${l}: live follow p50`, value: percentile(run.live!, 50), unit: 'ms', baseline: H.p50 },
        { name: `${l}: live follow p95`, value: percentile(run.live!, 95), unit: 'ms', baseline: H.p95 },
        { name: `${l}: CAS bytes stored per published 256 B message (1 per publish)`, value: run.single.casBytes / N_SINGLE, unit: 'B', baseline: H.bytes },
        { name: `${l}: CAS bytes stored per message (${BATCH} per publish)`, value: run.batch.casBytes / N_CATCH_UP, unit: 'B', baseline: H.bytes },
        ...(l === 'local'
          // Only here does the writer process itself write everything (CAS, NS, journal, state); elsewhere its writes are requests.
          ? [{ name: `${l}: writer process write() bytes per published message (1 per publish)`, value: run.single.written / N_SINGLE, unit: 'B', baseline: H.written }]
          : []),
        { name: `${l}: reader RSS after catch-up`, value: run.catchUp!.rss / 2 ** 20, unit: 'MiB', baseline: H.rss }
      )
    }
  } finally {
    await service.stop()
    await testnet.stop()
    await Promise.allSettled(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
  report(`anchors: plain Hypercore beside remotelog, one run, every writer and reader in its own process (${N_SINGLE.toLocaleString('en-US')} single appends, ${N_CATCH_UP.toLocaleString('en-US')} in batches of ${BATCH} and caught up, ${LIVE} live, ${MESSAGE_BYTES} B messages; ${Math.round(since(started) / 1000)} s)`, figures)
}

// ---------------------------------------------------------------------------------------------

const roleAt = process.argv.indexOf('--role')
if (roleAt === -1) {
  await main()
} else {
  const [role, ...args] = process.argv.slice(roleAt + 1)
  const parsed = args.map(a => JSON.parse(a) as unknown)
  if (role === 'hc-writer') await hypercoreWriter(parsed[0] as string)
  else if (role === 'hc-reader') await hypercoreReader(parsed[0] as string)
  else if (role === 'rl-writer') await remotelogWriter(parsed[0] as string, parsed[1])
  else if (role === 'rl-reader') await remotelogReader(parsed[0] as string, parsed[1])
  else throw new Error(`unknown role ${role}`)
}
