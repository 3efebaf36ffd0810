// IPFS benchmarks (issue 3): CAS put/get throughput per backend, and catch-up of a pointer-mode log
// over bitswap (two Helia nodes on 127.0.0.1) and over the Kubo RPC API (in-process js-ipfs node).
// `--quick` runs smaller counts, `--catch-up-only` skips the throughput part; `--json` prints JSON.
// The writer of each catch-up runs in its own process (as a real writer does); the reader runs here.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { memoryCas } from '../adapters/cas/memory.js'
import { localCas } from '../adapters/cas/local.js'
import { heliaCas } from '../adapters/cas/helia.js'
import { kuboCas } from '../adapters/cas/kubo.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import type { ContentStore } from '../core/content-store.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { report, since, type Figure } from './support.js'

const quick = process.argv.includes('--quick')
const catchUpOnly = process.argv.includes('--catch-up-only')
const OBJECTS = quick ? 2_000 : 10_000
const MESSAGES = quick ? 2_000 : 10_000
const OBJECT_BYTES = 256
const IN_FLIGHT = 16
/** Payload fetches in flight while a reader catches up (the endpoint's `log.concurrency`). */
const READER_IN_FLIGHT = Number(process.env.READER_IN_FLIGHT ?? 64)

const dirs: string[] = []
async function temp (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-ipfs-'))
  dirs.push(dir)
  return dir
}

/** Runs `fn(i)` for i < n with `inFlight` calls at a time; returns operations per second. */
async function rate (n: number, inFlight: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) await fn(next++)
  }))
  return n / (since(start) / 1000)
}

async function throughput (name: string, open: () => Promise<ContentStore>, figures: Figure[]): Promise<void> {
  const cas = await open()
  try {
    const objects = Array.from({ length: OBJECTS }, () => randomBytes(OBJECT_BYTES))
    const ids: CID[] = new Array(OBJECTS)
    for (const inFlight of [1, IN_FLIGHT]) {
      // Fresh bytes per round so no put is a duplicate of an earlier one.
      for (const o of objects) o.writeUInt32LE(inFlight, 0)
      const baseline = (op: string): string | undefined => name === 'local' ? undefined : `${op} local, ${inFlight} in flight`
      figures.push({ name: `put ${name}, ${inFlight} in flight`, value: await rate(OBJECTS, inFlight, async i => { ids[i] = await cas.put(objects[i]) }), unit: 'ops/s', baseline: baseline('put') })
      figures.push({ name: `get ${name}, ${inFlight} in flight`, value: await rate(OBJECTS, inFlight, async i => await cas.get(ids[i])), unit: 'ops/s', baseline: baseline('get') })
    }
  } finally {
    await cas.close()
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
  const line = await Promise.race([
    new Promise<string>(resolve => createInterface({ input: child.stdout }).once('line', resolve)),
    exited.then(() => { throw new Error('the writer process exited before publishing') }),
    new Promise<never>((_resolve, reject) => setTimeout(() => { reject(new Error('the writer process did not publish within 300 s')) }, 300_000).unref())
  ])
  const { address, multiaddrs } = JSON.parse(line) as { address: string, multiaddrs: string[] }
  return {
    address,
    multiaddrs,
    stop: async () => {
      child.stdin.end()
      const timer = setTimeout(() => child.kill(), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** The writer (own process) has MESSAGES pointer-mode messages; a fresh reader endpoint syncs them all. Returns the sync's ms. */
async function catchUp (writerCas: Config['cas'], readerCas: (writer: WriterProcess) => Config['cas']): Promise<number> {
  const nsDir = await temp()
  const writer = await startWriter(nsDir, writerCas)
  try {
    const bob = await openEndpoint({ dir: await temp(), config: endpointConfig(nsDir, readerCas(writer)) })
    try {
      await bob.follow(writer.address, 'alice')
      const start = performance.now()
      const result = await bob.sync('alice')
      const ms = since(start)
      if (result.delivered !== MESSAGES) throw new Error(`caught up ${result.delivered} of ${MESSAGES}`)
      return ms
    } finally {
      await bob.close()
    }
  } finally {
    await writer.stop()
  }
}

const figures: Figure[] = []
let rpc: IpfsRpcNode | undefined
try {
  rpc = await startIpfsRpcNode({ repo: await temp() })
  const rpcUrl = rpc.url
  if (!catchUpOnly) {
    await throughput('memory', async () => memoryCas(), figures)
    await throughput('local', async () => await localCas({ path: await temp() }), figures)
    await throughput('helia', async () => await heliaCas({ repo: await temp() }, { stateDir: await temp() }), figures)
    await throughput('kubo', async () => kuboCas({ url: rpcUrl }), figures)
  }

  const online = { driver: 'helia', offline: false, timeoutMs: 10_000 }
  const bitswapMs = await catchUp(online, writer => ({ ...online, peers: writer.multiaddrs }))
  figures.push({ name: `catch-up ${MESSAGES} pointer msgs, helia over bitswap`, value: bitswapMs, unit: 'ms' })
  const kubo = { driver: 'kubo', url: rpcUrl }
  const rpcMs = await catchUp(kubo, () => kubo)
  figures.push({ name: `catch-up ${MESSAGES} pointer msgs, kubo RPC`, value: rpcMs, unit: 'ms', baseline: `catch-up ${MESSAGES} pointer msgs, helia over bitswap` })
} finally {
  await rpc?.stop()
  await Promise.allSettled(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
}
report('remotelog IPFS', figures)
