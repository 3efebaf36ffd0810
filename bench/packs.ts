// Pack benchmarks (issue 8): export, verify and import throughput of a 100,000-message log on the
// local store, beside a raw copy of the same pack file (the physical bound), and the memory an
// export holds. Each figure is the median of --runs rounds (default 3); a round times export, the
// raw copy, verify, import and the store's puts one after the other, so all see the same machine.
// Usage: tsx bench/packs.ts [--messages N] [--modes inline,pointer] [--runs N] [--json]
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { localCas } from '../adapters/cas/local.js'
import { memoryNs } from '../adapters/ns/memory.js'
import type { LogMode } from '../core/log-options.js'
import { exportPack, type ExportSummary } from '../core/pack-export.js'
import { importPack } from '../core/pack-import.js'
import { verifyPack } from '../core/pack-verify.js'
import { openPack } from '../core/pack-read.js'
import { mapWindow } from '../core/map-window.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'
import { report, since, type Figure } from './support.js'

const MESSAGE_BYTES = 256
const BATCH = 1000

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback
}

const messages = Number(arg('messages', '100000'))
const runs = Number(arg('runs', '3'))
const modes = arg('modes', 'inline,pointer').split(',') as LogMode[]

const gc = (globalThis as { gc?: () => void }).gc

/** Heap bytes still in use after a full gc; NaN without --expose-gc. */
function heapAfterGc (): number {
  if (gc === undefined) return NaN
  gc()
  return process.memoryUsage().heapUsed
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function timed<T> (fn: () => Promise<T>): Promise<{ value: T, seconds: number }> {
  const start = performance.now()
  const value = await fn()
  return { value, seconds: since(start) / 1000 }
}

async function run (mode: LogMode, dir: string): Promise<Figure[]> {
  const source = await localCas({ path: join(dir, `${mode}-source`) })
  try {
    const writer = await LogWriter.open({ cas: source, ns: memoryNs(), owner: { label: 'bench', secret: randomBytes(32) }, storage: memoryWriterStorage(), log: { mode, pageEntries: 256 } })
    const payload = randomBytes(MESSAGE_BYTES)
    for (let sent = 0; sent < messages; sent += BATCH) {
      await writer.append(Array.from({ length: Math.min(BATCH, messages - sent) }, (_, i) => { const m = Buffer.from(payload); m.writeUInt32LE(sent + i); return m }))
      await writer.publish()
    }
    const file = join(dir, `${mode}.car`)
    // A run that samples the heap a quarter of the way and at the end (gc is slow), before the timed
    // rounds, whose blocks would still be in the heap.
    const base = heapAfterGc()
    let quarter: number | undefined
    await exportPack(`${file}.again`, { cas: source, head: writer.head!, onProgress: p => { if (quarter === undefined && p.messages >= p.total / 4) quarter = heapAfterGc() } })
    const end = heapAfterGc()
    const mib = (bytes: number | undefined): number => ((bytes ?? NaN) - base) / 2 ** 20
    // Each step `runs` times, in rounds (export, raw copy, verify, import, store puts), so that the
    // raw copy sees the same machine as the rest; each figure is the median of its runs.
    const times = { copy: [] as number[], export: [] as number[], verify: [] as number[], import: [] as number[], put: [] as number[] }
    let summary: ExportSummary | undefined
    for (let r = 0; r < runs; r++) {
      const exported = await timed(async () => await exportPack(file, { cas: source, head: writer.head! }))
      summary = exported.value
      times.export.push(exported.seconds)
      const copy = join(dir, `${mode}-copy.car`)
      times.copy.push((await timed(async () => { await pipeline(createReadStream(file), createWriteStream(copy)) })).seconds)
      times.verify.push((await timed(async () => await verifyPack(file))).seconds)
      const target = await localCas({ path: join(dir, `${mode}-target-${r}`) })
      times.import.push((await timed(async () => await importPack(file, target))).seconds)
      await target.close()
      // The store's own bound: the same blocks put straight into a fresh store, 16 in flight as import does.
      const blocks: Uint8Array[] = []
      const pack = await openPack(file)
      for await (const { bytes } of pack.blocks) blocks.push(bytes)
      const bare = await localCas({ path: join(dir, `${mode}-bare-${r}`) })
      times.put.push((await timed(async () => { await mapWindow(blocks, 16, async b => await bare.put(b)) })).seconds)
      await bare.close()
    }
    const mb = summary!.fileBytes / 1e6
    const copyS = median(times.copy)
    const exportS = median(times.export)
    const verifyS = median(times.verify)
    const importS = median(times.import)
    const putS = median(times.put)
    const raw = `${mode}: raw copy of the pack`
    return [
      { name: raw, value: mb / copyS, unit: 'MB/s' },
      { name: `${mode}: export`, value: mb / exportS, unit: 'MB/s', baseline: raw },
      { name: `${mode}: verify`, value: mb / verifyS, unit: 'MB/s', baseline: raw },
      { name: `${mode}: import (verify + load)`, value: mb / importS, unit: 'MB/s', baseline: raw },
      { name: `${mode}: export rate`, value: messages / exportS, unit: 'messages/s' },
      { name: `${mode}: store puts of the same blocks`, value: messages / putS, unit: 'messages/s' },
      { name: `${mode}: import rate`, value: messages / importS, unit: 'messages/s', baseline: `${mode}: store puts of the same blocks` },
      { name: `${mode}: pack size`, value: mb, unit: 'MB' },
      { name: `${mode}: blocks in pack`, value: summary!.blocks, unit: 'blocks' },
      { name: `${mode}: export heap held at 1/4 (after gc)`, value: mib(quarter), unit: 'MiB' },
      { name: `${mode}: export heap held at the end (after gc)`, value: mib(end), unit: 'MiB' }
    ]
  } finally {
    await source.close()
  }
}

const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-packs-'))
try {
  const figures: Figure[] = []
  for (const mode of modes) figures.push(...await run(mode, dir))
  report(`packs: ${messages.toLocaleString('en-US')} messages of ${MESSAGE_BYTES} B, local store, page 256 entries, median of ${runs} runs`, figures)
} finally {
  await rm(dir, { recursive: true, force: true })
}
