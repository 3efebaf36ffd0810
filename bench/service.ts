// Remote log service benchmarks (issue 6). `remotelog serve` runs in its own process on 127.0.0.1
// (local on-disk backends, as `init` configures them); autocannon drives it.
// 1. requests/s and p50/p99 latency of Add, Get and Fetch, 1 and 32 connections, protobuf vs JSON;
// 2. catch-up sync of 10,000 messages through the service vs the local store, same run (ratio).
// `--quick` runs shorter; `--json` prints JSON.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { openEndpoint } from '../config/open-endpoint.js'
import { defaultConfig, type Config } from '../config/config.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { twirpNs } from '../adapters/ns/twirp.js'
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

/** `remotelog init` + `remotelog serve --port 0` in a child process; resolves with its URL. */
async function startServer (): Promise<{ url: string, child: ChildProcess }> {
  const root = await temp()
  const env = { ...process.env, REMOTELOG_STORE: join(root, 'store') }
  const dir = join(root, 'server')
  const init = spawn(process.execPath, [bin, '--dir', dir, 'init'], { env, stdio: 'ignore' })
  const [code] = await once(init, 'close') as [number]
  if (code !== 0) throw new Error(`remotelog init exited ${code}`)
  const child = spawn(process.execPath, [bin, '--dir', dir, '--json', 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return { url: (JSON.parse(line.toString()) as { url: string }).url, child }
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

async function load (url: string, route: string, format: Format, connections: number, next: () => Buffer): Promise<Figure[]> {
  const latencies: number[] = []
  const run = autocannon({
    url: `${url}/twirp/${route}`,
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
  const failures = result.errors + result.timeouts + result.non2xx
  if (failures > 0) throw new Error(`${route} ${format} ×${connections}: ${failures} failed requests`)
  const label = `${route.split('/')[1]} ${format} ×${connections}`
  return [
    { name: `${label} req/s`, value: result.requests.total / result.duration, unit: 'req/s' },
    { name: `${label} p50`, value: percentile(latencies, 50), unit: 'ms' },
    { name: `${label} p99`, value: percentile(latencies, 99), unit: 'ms' }
  ]
}

async function requestFigures (url: string): Promise<Figure[]> {
  const stored = randomBytes(PAYLOAD_BYTES)
  const id = await twirpCas({ url }).put(stored)
  const ns = twirpNs({ url })
  const owner = { label: 'bench', secret: randomBytes(32) }
  const name = await ns.nameOf(owner)
  await ns.publish(name, { head: id, length: 1, revision: 1 }, owner)

  const figures: Figure[] = []
  for (const connections of [1, 32]) {
    for (const format of ['protobuf', 'json'] as const) {
      // Fresh content for every Add: each one is a real write.
      figures.push(...await load(url, 'vac.cas.CAS/Add', format, connections, () => body(format, 'data', randomBytes(PAYLOAD_BYTES))))
      const get = body(format, 'id', id.bytes)
      figures.push(...await load(url, 'vac.cas.CAS/Get', format, connections, () => get))
      const fetch = body(format, 'name', name)
      figures.push(...await load(url, 'vac.ns.NS/Fetch', format, connections, () => fetch))
    }
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
  const figures = [...await requestFigures(server.url), ...await syncFigures(server.url)]
  report(`remote log service (autocannon ${SECONDS} s per run, ${PAYLOAD_BYTES} B payloads, server in its own process)`, figures)
} finally {
  server.child.kill('SIGTERM')
  await once(server.child, 'close')
  await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
}
