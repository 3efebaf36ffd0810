// Core benchmarks (issue 2): writer throughput per backend and mode, catch-up, no-change sync, reader memory.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { localCas } from '../adapters/cas/local.js'
import { localNs } from '../adapters/ns/local.js'
import { LogWriter } from '../core/writer.js'
import { Endpoint } from '../core/endpoint.js'
import { LogReader } from '../core/reader.js'
import { fileWriterStorage, memoryWriterStorage } from '../core/writer-storage.js'
import { countingCas, countingNs, emptyCounts } from '../core/counting.js'
import type { ContentStore } from '../core/content-store.js'
import type { NameSystem } from '../core/name-system.js'
import type { LogMode } from '../core/log-options.js'
import type { Durability } from '../core/durable-file.js'
import { report, since, type Figure } from './support.js'

const MESSAGE_BYTES = 256
const BATCH = 100
const PAGE_ENTRIES = 256

interface Backends { cas: ContentStore, ns: NameSystem, dir?: string }

async function backends (kind: 'memory' | 'local'): Promise<Backends> {
  if (kind === 'memory') return { cas: memoryCas(), ns: memoryNs() }
  const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-'))
  return { cas: await localCas({ path: join(dir, 'blocks') }), ns: localNs({ path: join(dir, 'names') }), dir }
}

async function done (b: Backends): Promise<void> {
  await b.cas.close()
  await b.ns.close()
  if (b.dir !== undefined) await rm(b.dir, { recursive: true, force: true })
}

async function writer (b: Backends, mode: LogMode, pageEntries = PAGE_ENTRIES, durability: Durability = 'fsync'): Promise<LogWriter> {
  const storage = b.dir === undefined ? memoryWriterStorage() : fileWriterStorage(join(b.dir, 'writer'), { durability })
  return await LogWriter.open({ cas: b.cas, ns: b.ns, owner: { label: 'bench', secret: randomBytes(32) }, storage, log: { mode, pageEntries } })
}

async function publishThroughput (kind: 'memory' | 'local', mode: LogMode, messages: number, durability: Durability = 'fsync', batch = BATCH): Promise<number> {
  const b = await backends(kind)
  try {
    const w = await writer(b, mode, PAGE_ENTRIES, durability)
    const payloads = Array.from({ length: batch }, () => randomBytes(MESSAGE_BYTES))
    const start = performance.now()
    for (let sent = 0; sent < messages; sent += batch) {
      await w.append(payloads.map((p, i) => { const m = Buffer.from(p); m.writeUInt32LE(sent + i); return m }))
      await w.publish()
    }
    return messages / (since(start) / 1000)
  } finally {
    await done(b)
  }
}

async function catchUp (messages: number): Promise<{ ms: number, noChange: { ns: number, cas: number } }> {
  const b = await backends('local')
  try {
    const w = await writer(b, 'inline')
    for (let sent = 0; sent < messages; sent += 1000) {
      await w.append(Array.from({ length: 1000 }, () => randomBytes(MESSAGE_BYTES)))
      await w.publish()
    }
    // A fresh reader on a fresh store handle: nothing cached.
    const cas = await localCas({ path: join(b.dir!, 'blocks') })
    const ns = localNs({ path: join(b.dir!, 'names') })
    const start = performance.now()
    const sync = new LogReader({ cas, ns, name: w.name }).sync({ length: 0 })
    let n = 0
    for await (const _ of sync.messages) n++
    const ms = since(start)
    if (n !== messages) throw new Error(`caught up ${n} of ${messages}`)
    const counts = emptyCounts()
    const again = new LogReader({ cas: countingCas(cas, counts), ns: countingNs(ns, counts), name: w.name }).sync((await sync.done).cursor)
    for await (const _ of again.messages) n++
    await cas.close()
    return { ms, noChange: { ns: counts.nsResolves, cas: counts.casGets } }
  } finally {
    await done(b)
  }
}

/** RSS growth of a reader catching up on `entries` small entries, sampled while it reads. */
async function readerRss (entries: number): Promise<{ growthMb: number, heapMb: number, ms: number }> {
  const b = await backends('memory')
  const w = await writer(b, 'inline')
  for (let sent = 0; sent < entries; sent += 10_000) {
    await w.append(Array.from({ length: 10_000 }, (_, i) => `entry ${sent + i}`))
    await w.publish()
  }
  global.gc?.()
  const before = process.memoryUsage()
  let peak = before.rss
  let peakHeap = before.heapUsed
  const start = performance.now()
  const sync = new LogReader({ cas: b.cas, ns: b.ns, name: w.name }).sync({ length: 0 })
  let n = 0
  for await (const _ of sync.messages) {
    if (++n % 10_000 === 0) {
      const now = process.memoryUsage()
      peak = Math.max(peak, now.rss)
      peakHeap = Math.max(peakHeap, now.heapUsed)
    }
  }
  if (n !== entries) throw new Error(`read ${n} of ${entries}`)
  return { growthMb: (peak - before.rss) / 2 ** 20, heapMb: (peakHeap - before.heapUsed) / 2 ** 20, ms: since(start) }
}

/** A follower holding `stored` messages reads from its last one (what each live message costs). */
async function readTail (stored: number): Promise<{ indexed: number, scan: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-'))
  const cas = memoryCas()
  const ns = localNs({ path: join(dir, 'names') })
  const alice = await Endpoint.open({ dir: join(dir, 'alice'), cas, ns, durability: 'process' })
  const bob = await Endpoint.open({ dir: join(dir, 'bob'), cas, ns, durability: 'process' })
  try {
    for (let sent = 0; sent < stored; sent += 10_000) {
      await alice.append(Array.from({ length: 10_000 }, (_, i) => `entry ${sent + i}`))
      await alice.publish()
    }
    await bob.follow(await alice.address(), 'alice')
    await bob.sync('alice')
    const time = async (): Promise<number> => {
      const start = performance.now()
      for (let i = 0; i < 20; i++) for await (const _ of bob.read('alice', { from: stored - 1 }));
      return since(start) / 20
    }
    const indexed = await time()
    await rm(join(dir, 'bob', 'follows', 'alice', 'messages.idx')) // what every read cost before the index
    return { indexed, scan: await time() }
  } finally {
    await alice.close()
    await bob.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const quick = process.argv.includes('--quick')
const figures: Figure[] = []
await publishThroughput('memory', 'inline', 20_000) // warm the JIT before anything is timed
for (const kind of ['memory', 'local'] as const) {
  for (const mode of ['inline', 'pointer'] as const) {
    const n = kind === 'local' && mode === 'pointer' ? 10_000 : quick ? 20_000 : 100_000
    const runs = [await publishThroughput(kind, mode, n), await publishThroughput(kind, mode, n), await publishThroughput(kind, mode, n)]
    figures.push({ name: `append+publish ${kind} ${mode} (median of 3)`, value: runs.sort((a, b) => a - b)[1], unit: 'msg/s', baseline: kind === 'memory' ? undefined : `append+publish memory ${mode} (median of 3)` })
  }
}
// Local state dir durability: fsync (the default: survives a power cut) against process (a killed process).
for (const batch of [BATCH, 1]) {
  const n = batch === 1 ? 1_000 : 10_000
  for (const durability of ['fsync', 'process'] as const) {
    const runs = [await publishThroughput('local', 'inline', n, durability, batch), await publishThroughput('local', 'inline', n, durability, batch), await publishThroughput('local', 'inline', n, durability, batch)]
    figures.push({ name: `append+publish local inline, ${batch} per publish, durability ${durability} (median of 3)`, value: runs.sort((a, b) => a - b)[1], unit: 'msg/s', baseline: durability === 'fsync' ? undefined : `append+publish local inline, ${batch} per publish, durability fsync (median of 3)` })
  }
}
const c = await catchUp(10_000)
figures.push({ name: 'catch-up 10,000 msgs, local inline, fresh reader', value: c.ms, unit: 'ms' })
figures.push({ name: 'no-change sync: NS resolves', value: c.noChange.ns, unit: 'requests' })
figures.push({ name: 'no-change sync: CAS gets', value: c.noChange.cas, unit: 'requests' })
const tail = await readTail(100_000)
figures.push({ name: 'follower read from its newest of 100,000 messages, without the index (full scan)', value: tail.scan, unit: 'ms' })
figures.push({ name: 'follower read from its newest of 100,000 messages, through the index', value: tail.indexed, unit: 'ms', baseline: 'follower read from its newest of 100,000 messages, without the index (full scan)' })
const rss = await readerRss(quick ? 100_000 : 1_000_000)
figures.push({ name: `reader RSS growth, ${quick ? '100k' : '1M'} entries (memory CAS)`, value: rss.growthMb, unit: 'MB' })
figures.push({ name: `reader heap growth (peak, incl. garbage), ${quick ? '100k' : '1M'} entries`, value: rss.heapMb, unit: 'MB' })
figures.push({ name: `reader catch-up, ${quick ? '100k' : '1M'} entries (memory CAS)`, value: rss.ms, unit: 'ms' })
report('remotelog core', figures)
