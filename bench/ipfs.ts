// IPFS benchmarks (issue 3): CAS put/get throughput per backend, and catch-up of a pointer-mode log
// over bitswap (two Helia nodes on 127.0.0.1) and over the Kubo RPC API (in-process js-ipfs node).
// The writer of each catch-up runs in its own process, as a real writer does; the reader runs here.
// Throughput rounds of memory/local/helia are interleaved and repeated (median reported): this machine
// is shared, and disk speed in particular swings between runs.
// `--quick` runs smaller counts, `--catch-up-only` skips the throughput part, `--json` prints JSON.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { CID } from 'multiformats/cid'
import { memoryCas } from '../adapters/cas/memory.js'
import { localCas } from '../adapters/cas/local.js'
import { heliaCas } from '../adapters/cas/helia.js'
import { kuboCas } from '../adapters/cas/kubo.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import type { ContentStore } from '../core/content-store.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { percentile, report, since, type Figure } from './support.js'

const quick = process.argv.includes('--quick')
const catchUpOnly = process.argv.includes('--catch-up-only')
const OBJECTS = quick ? 2_000 : 10_000
const MESSAGES = quick ? 2_000 : 10_000
const OBJECT_BYTES = 256
const IN_FLIGHT = [1, 16]
const ROUNDS = quick ? 1 : 3
/** Payload fetches in flight while a reader catches up (the endpoint's `log.concurrency`). */
const READER_IN_FLIGHT = Number(process.env.READER_IN_FLIGHT ?? 256)

const dirs: string[] = []
async function temp (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-ipfs-'))
  dirs.push(dir)
  return dir
}

const median = (values: number[]): number => percentile(values, 50)

/** Runs `fn(i)` for i < n with `inFlight` calls at a time; returns operations per second. */
async function rate (n: number, inFlight: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) await fn(next++)
  }))
  return n / (since(start) / 1000)
}

/** Puts OBJECTS fresh objects then gets them back, at each in-flight level, on a fresh store. */
async function throughputRound (open: () => Promise<ContentStore>): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const cas = await open()
  try {
    const objects = Array.from({ length: OBJECTS }, () => randomBytes(OBJECT_BYTES))
    const ids: CID[] = new Array(OBJECTS)
    for (const inFlight of IN_FLIGHT) {
      for (const o of objects) o.writeUInt32LE(inFlight, 0) // fresh bytes: no put duplicates an earlier one
      out.set(`put, ${inFlight} in flight`, await rate(OBJECTS, inFlight, async i => { ids[i] = await cas.put(objects[i]) }))
      out.set(`get, ${inFlight} in flight`, await rate(OBJECTS, inFlight, async i => await cas.get(ids[i])))
    }
  } finally {
    await cas.close()
  }
  return out
}

async function throughput (backends: Record<string, () => Promise<ContentStore>>, rounds: number, figures: Figure[]): Promise<void> {
  const samples = new Map<string, number[]>()
  for (let round = 0; round < rounds; round++) {
    for (const [name, open] of Object.entries(backends)) {
      for (const [what, value] of await throughputRound(open)) {
        const key = `${what.split(',')[0]} ${name},${what.split(',')[1]}`
        samples.set(key, [...(samples.get(key) ?? []), value])
      }
    }
  }
  for (const [name, values] of samples) {
    const local = name.replace(/^(\w+) \w+,/, '$1 local,')
    figures.push({ name, value: median(values), unit: 'ops/s', baseline: local === name ? undefined : local })
  }
}

function endpointConfig (nsDir: string, cas: Config['cas']): Config {
  return { cas, ns: { driver: 'local', path: nsDir }, log: { mode: 'pointer', concurrency: READER_IN_FLIGHT } }
}

interface WriterProcess { address: string, multiaddrs: string[], stop: () => Promise<void> }

/** Starts the writer endpoint in its own process (bench/helpers/log-writer-process.ts) and waits until it has published. */
async function startWriter (nsDir: string, cas: Config['cas']): Promise<WriterProcess> {
  const script = fileURLToPath(new URL('./helpers/log-writer-process.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script, await temp(), nsDir, String(MESSAGES), JSON.stringify(cas)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  let timer: NodeJS.Timeout | undefined
  try {
    const line = await Promise.race([
      new Promise<string>(resolve => createInterface({ input: child.stdout }).once('line', resolve)),
      exited.then(() => { throw new Error('the writer process exited before publishing') }),
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('the writer process did not publish within 300 s')) }, 300_000) })
    ])
    const { address, multiaddrs } = JSON.parse(line) as { address: string, multiaddrs: string[] }
    return {
      address,
      multiaddrs,
      stop: async () => {
        child.stdin.end()
        const kill = setTimeout(() => child.kill(), 10_000)
        await exited
        clearTimeout(kill)
      }
    }
  } catch (e) {
    child.kill()
    throw e
  } finally {
    clearTimeout(timer)
  }
}

/** A fresh reader endpoint syncs the writer's MESSAGES pointer-mode messages: wall ms and the reader's CPU ms. */
async function catchUp (writerCas: Config['cas'], readerCas: (writer: WriterProcess) => Config['cas']): Promise<{ ms: number, cpuMs: number }> {
  const nsDir = await temp()
  const writer = await startWriter(nsDir, writerCas)
  try {
    const bob = await openEndpoint({ dir: await temp(), config: endpointConfig(nsDir, readerCas(writer)) })
    try {
      await bob.follow(writer.address, 'alice')
      const cpu = process.cpuUsage()
      const start = performance.now()
      const result = await bob.sync('alice')
      const ms = since(start)
      const used = process.cpuUsage(cpu)
      if (result.delivered !== MESSAGES) throw new Error(`caught up ${result.delivered} of ${MESSAGES}`)
      return { ms, cpuMs: (used.user + used.system) / 1000 }
    } finally {
      await bob.close()
    }
  } finally {
    await writer.stop()
  }
}

async function catchUpFigures (label: string, rounds: number, run: () => Promise<{ ms: number, cpuMs: number }>, figures: Figure[], baseline?: string): Promise<void> {
  const runs: Array<{ ms: number, cpuMs: number }> = []
  for (let i = 0; i < rounds; i++) runs.push(await run())
  figures.push({ name: `catch-up ${MESSAGES} pointer msgs, ${label}`, value: median(runs.map(r => r.ms)), unit: 'ms', baseline })
  figures.push({ name: `  reader CPU during it, ${label}`, value: median(runs.map(r => r.cpuMs)), unit: 'ms' })
}

const figures: Figure[] = []
let rpc: IpfsRpcNode | undefined
try {
  rpc = await startIpfsRpcNode({ repo: await temp() })
  const rpcUrl = rpc.url
  if (!catchUpOnly) {
    await throughput({
      memory: async () => memoryCas(),
      local: async () => await localCas({ path: await temp() }),
      helia: async () => await heliaCas({ repo: await temp() }, { stateDir: await temp() })
    }, ROUNDS, figures)
    // js-ipfs takes ~3 ms a put: one round only.
    await throughput({ kubo: async () => kuboCas({ url: rpcUrl }) }, 1, figures)
  }

  const online = { driver: 'helia', offline: false, timeoutMs: 10_000 }
  const bitswap = `helia over bitswap, ${READER_IN_FLIGHT} in flight`
  await catchUpFigures(bitswap, ROUNDS, async () => await catchUp(online, writer => ({ ...online, peers: writer.multiaddrs })), figures)
  const kubo = { driver: 'kubo', url: rpcUrl }
  await catchUpFigures(`kubo RPC, ${READER_IN_FLIGHT} in flight`, 1, async () => await catchUp(kubo, () => kubo), figures, `catch-up ${MESSAGES} pointer msgs, ${bitswap}`)
} finally {
  await rpc?.stop()
  await Promise.allSettled(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
}
report('remotelog IPFS', figures)
