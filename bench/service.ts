// Remote log service benchmarks (issue 6). `remotelog serve` runs in its own process on 127.0.0.1
// (local on-disk backends, as `init` configures them); autocannon drives it.
// 1. requests/s and p50/p99 latency of Add, Get and Fetch, 1 and 32 connections, protobuf vs JSON,
//    beside a static baseline in the same run with the same autocannon settings: a plain node:http
//    server in its own process answering every POST with Get's answer bytes from memory, and one
//    reading the stored block's file from disk per request (Get's ratio is to the latter, Add's and
//    Fetch's to the former); with 32 connections also the server process's CPU time per request
//    (Linux), steadier than requests/s on a machine shared with other work;
// 2. catch-up sync of 10,000 messages through the service vs the local store, same run (ratio).
// `--quick` runs shorter; `--json` prints JSON.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { openEndpoint } from '../config/open-endpoint.js'
import { defaultConfig, type Config } from '../config/config.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { NextToLast } from 'blockstore-fs/sharding'
import type { LogMode } from '../core/log-options.js'
import { remoteConfig } from '../service/remote-config.js'
import { percentile, report, since, type Figure } from './support.js'

const quick = process.argv.includes('--quick')
const SECONDS = quick ? 2 : 5
const MESSAGES = 10_000
const PAYLOAD_BYTES = 256
const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))

const dirs: string[] = []
async function temp (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-service-'))
  dirs.push(dir)
  return dir
}

interface Server { url: string, child: ChildProcess }

/** `remotelog init` + `remotelog serve --port 0` in a child process; resolves with its URL and its block folder. */
async function startServer (): Promise<Server & { blocks: string }> {
  const root = await temp()
  const env = { ...process.env, REMOTELOG_STORE: join(root, 'store') }
  const dir = join(root, 'server')
  const init = spawn(process.execPath, [bin, '--dir', dir, 'init'], { env, stdio: 'ignore' })
  const [code] = await once(init, 'close') as [number]
  if (code !== 0) throw new Error(`remotelog init exited ${code}`)
  const child = spawn(process.execPath, [bin, '--dir', dir, '--json', 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return { url: (JSON.parse(line.toString()) as { url: string }).url, child, blocks: join(root, 'store', 'blocks') }
}

// The static baseline: a plain node:http server answering every request with a file's bytes, kept
// in memory or read from disk per request (fs.promises.readFile, as a static file server would).
const STATIC_SERVER = `
const { createServer } = require('node:http')
const { readFileSync } = require('node:fs')
const { readFile } = require('node:fs/promises')
const [file, from] = process.argv.slice(1)
const kept = readFileSync(file)
createServer((req, res) => {
  req.resume()
  req.on('end', async () => {
    const body = from === 'disk' ? await readFile(file) : kept
    res.writeHead(200, { 'content-type': 'application/protobuf', 'content-length': body.byteLength })
    res.end(body)
  })
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ url: 'http://127.0.0.1:' + this.address().port })) })
`

async function startStatic (file: string, from: 'memory' | 'disk'): Promise<Server> {
  const child = spawn(process.execPath, ['-e', STATIC_SERVER, file, from === 'disk' ? 'disk' : 'memory'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return { url: (JSON.parse(line.toString()) as { url: string }).url, child }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'close')
}

/** CPU time (user + system, all threads) a process has used, in µs; undefined where /proc is not there. */
function cpuMicros (pid: number | undefined): number | undefined {
  const stat = `/proc/${pid ?? 0}/stat`
  if (pid === undefined || !existsSync(stat)) return undefined
  const fields = readFileSync(stat, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1_000_000 / 100 // clock ticks: USER_HZ is 100 on Linux
}

type Format = 'protobuf' | 'json'

/** A vac.* message with one length-delimited field 1 (Content.data, Address.id, Query.name) in either encoding. */
function body (format: Format, jsonField: string, value: Uint8Array | string): Buffer {
  if (format === 'json') {
    return Buffer.from(JSON.stringify({ [jsonField]: typeof value === 'string' ? value : Buffer.from(value).toString('base64') }))
  }
  const bytes = Buffer.from(value)
  const length: number[] = []
  for (let n = bytes.length; ; n = Math.floor(n / 128)) {
    if (n < 0x80) { length.push(n); break }
    length.push((n & 0x7f) | 0x80)
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), bytes])
}

/** One autocannon run; `label` names its figures, `pid` the server process whose CPU time per request is reported (32 connections). */
async function load (target: { url: string, pid?: number }, route: string, format: Format, connections: number, next: () => Buffer, label: string, baseline?: string): Promise<Figure[]> {
  const latencies: number[] = []
  const cpuBefore = cpuMicros(target.pid)
  const run = autocannon({
    url: `${target.url}/twirp/${route}`,
    connections,
    duration: SECONDS,
    requests: [{
      method: 'POST',
      headers: { 'content-type': format === 'json' ? 'application/json' : 'application/protobuf' },
      setupRequest: (request) => ({ ...request, body: next() })
    }]
  })
  // autocannon's own percentiles are whole milliseconds; sub-millisecond calls need the exact times.
  run.on('response', (_client, status, _bytes, ms) => { if (status === 200) latencies.push(ms) })
  const result = await run
  const cpuAfter = cpuMicros(target.pid)
  const failures = result.errors + result.timeouts + result.non2xx
  if (failures > 0) throw new Error(`${label}: ${failures} failed requests`)
  const figures: Figure[] = [
    { name: `${label} req/s`, value: result.requests.total / result.duration, unit: 'req/s', ...(baseline !== undefined ? { baseline: `${baseline} req/s` } : {}) },
    { name: `${label} p50`, value: percentile(latencies, 50), unit: 'ms' },
    { name: `${label} p99`, value: percentile(latencies, 99), unit: 'ms' }
  ]
  if (connections > 1 && cpuBefore !== undefined && cpuAfter !== undefined && result.requests.total > 0) {
    figures.push({ name: `${label} server CPU/request`, value: (cpuAfter - cpuBefore) / result.requests.total, unit: 'µs', ...(baseline !== undefined ? { baseline: `${baseline} server CPU/request` } : {}) })
  }
  return figures
}

async function requestFigures (server: Server & { blocks: string }): Promise<Figure[]> {
  const { url } = server
  const stored = randomBytes(PAYLOAD_BYTES)
  const id = await twirpCas({ url }).put(stored)
  const ns = twirpNs({ url })
  const owner = { label: 'bench', secret: randomBytes(32) }
  const name = await ns.nameOf(owner)
  await ns.publish(name, { head: id, length: 1, revision: 1 }, owner)

  // The baseline answers what Get answers for the stored block: its bytes as a protobuf Content,
  // from memory; or the block's own file (where the service keeps it), read per request.
  const answer = join(await temp(), 'get-answer.bin')
  await writeFile(answer, body('protobuf', 'data', stored))
  const { dir, file } = new NextToLast().encode(id)
  const statics = {
    memory: await startStatic(answer, 'memory'),
    disk: await startStatic(join(server.blocks, dir, file), 'disk')
  }
  const service = { url, pid: server.child.pid }
  const figures: Figure[] = []
  try {
    for (const connections of [1, 32]) {
      const memory = `static from memory ×${connections}`
      const disk = `static from disk ×${connections}`
      const ask = body('protobuf', 'id', id.bytes)
      figures.push(...await load({ url: statics.memory.url, pid: statics.memory.child.pid }, 'static', 'protobuf', connections, () => ask, memory))
      figures.push(...await load({ url: statics.disk.url, pid: statics.disk.child.pid }, 'static', 'protobuf', connections, () => ask, disk, memory))
      for (const format of ['protobuf', 'json'] as const) {
        const label = (method: string): string => `${method} ${format} ×${connections}`
        // Fresh content for every Add: each one is a real write.
        figures.push(...await load(service, 'vac.cas.CAS/Add', format, connections, () => body(format, 'data', randomBytes(PAYLOAD_BYTES)), label('Add'), memory))
        const get = body(format, 'id', id.bytes)
        figures.push(...await load(service, 'vac.cas.CAS/Get', format, connections, () => get, label('Get'), disk))
        const fetch = body(format, 'name', name)
        figures.push(...await load(service, 'vac.ns.NS/Fetch', format, connections, () => fetch, label('Fetch'), memory))
      }
    }
  } finally {
    await Promise.all([stop(statics.memory.child), stop(statics.disk.child)])
  }
  return figures
}

/** Alice publishes MESSAGES in batches; a fresh bob catches up. Returns bob's sync time. */
async function catchUp (config: Config): Promise<{ publishMs: number, syncMs: number, casRequests: number }> {
  const alice = await openEndpoint({ dir: await temp(), config })
  const bob = await openEndpoint({ dir: await temp(), config })
  try {
    const batch = 1_000
    let start = performance.now()
    for (let sent = 0; sent < MESSAGES; sent += batch) {
      await alice.append(Array.from({ length: batch }, (_, i) => { const m = randomBytes(PAYLOAD_BYTES); m.writeUInt32LE(sent + i); return m }))
      await alice.publish()
    }
    const publishMs = since(start)
    await bob.follow(await alice.address(), 'alice')
    start = performance.now()
    const synced = await bob.sync('alice')
    const syncMs = since(start)
    if (synced.length !== MESSAGES) throw new Error(`bob synced ${synced.length} of ${MESSAGES}`)
    return { publishMs, syncMs, casRequests: synced.casRequests }
  } finally {
    await Promise.allSettled([alice.close(), bob.close()])
  }
}

async function syncFigures (url: string): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const mode of ['inline', 'pointer'] as LogMode[]) {
    const log = { mode }
    const local = await catchUp({ ...defaultConfig(join(await temp(), 'store')), log })
    const served = await catchUp({ ...remoteConfig(url), log })
    const base = `sync ${MESSAGES.toLocaleString('en-US')} msgs ${mode}`
    figures.push(
      { name: `${base}, local store`, value: local.syncMs, unit: 'ms' },
      { name: `${base}, service`, value: served.syncMs, unit: 'ms', baseline: `${base}, local store` },
      { name: `${base}, service CAS requests`, value: served.casRequests, unit: 'requests' },
      { name: `publish ${MESSAGES.toLocaleString('en-US')} msgs ${mode}, local store`, value: local.publishMs, unit: 'ms' },
      { name: `publish ${MESSAGES.toLocaleString('en-US')} msgs ${mode}, service`, value: served.publishMs, unit: 'ms', baseline: `publish ${MESSAGES.toLocaleString('en-US')} msgs ${mode}, local store` }
    )
  }
  return figures
}

const server = await startServer()
try {
  const figures = [...await requestFigures(server), ...await syncFigures(server.url)]
  report(`remote log service (autocannon ${SECONDS} s per run, ${PAYLOAD_BYTES} B payloads, server in its own process; ratios to the static baseline of the same run)`, figures)
} finally {
  await stop(server.child)
  await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
}
