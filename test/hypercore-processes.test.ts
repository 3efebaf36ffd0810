// Writer, seeder and readers as separate OS processes on one host, over a DHT testnet on 127.0.0.1.
// Guards the hyperdht pin: 6.33.0–6.34.0 leave connections between two processes on one host
// half-open (holepunchto/hyperdht#304) — the reader believes it is connected, the writer never sees
// it, and every catch-up stalls ~13 s. Tests with every peer in one process never show it. On 6.34.0
// the first test failed 3 runs in 3 (the seeder never replicated within its timeout), the second 2 in 3.
import { randomBytes } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { Config } from '../config/config.js'
import type { SyncReport } from '../core/endpoint.js'
import { coreKeyOf, hypercoreKeyPair, nameOfCoreKey } from '../adapters/ns/hypercore-keys.js'
import { startHypercoreTestnet, type HypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const writerScript = fileURLToPath(new URL('./support/hypercore-writer.ts', import.meta.url))
const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))
// Below the ~13 s a half-open connection costs: with the broken hyperdht, a resolve runs out of
// time (UNAVAILABLE) instead of arriving late, so the tests fail on delivery, not on a clock.
const TIMEOUT_MS = 8000

let testnet: HypercoreTestnet
beforeAll(async () => { testnet = await startHypercoreTestnet() })
afterAll(async () => { await testnet?.stop() })

function config (casDir: string): Config {
  return {
    cas: { driver: 'local', path: casDir },
    ns: { driver: 'hypercore', bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS }
  }
}

/** A state dir with `config` in its config.json, for the CLI. */
async function stateDir (casDir: string, prefix: string): Promise<string> {
  const dir = join(await tempDir(prefix), 'state')
  await mkdir(dir)
  await writeFile(join(dir, 'config.json'), JSON.stringify(config(casDir)))
  return dir
}

/** Kills `child` (SIGKILL) when the test ends, or earlier through the returned function. */
function killer (child: ChildProcess): () => Promise<void> {
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  onTestFinished(kill)
  return kill
}

/** The first stdout line of a long-running child, or its stderr if it exits first. */
async function firstLine (child: ChildProcess, what: string): Promise<string> {
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const lines = createInterface({ input: child.stdout! })
  const [line] = await Promise.race([
    once(lines, 'line') as Promise<[string]>,
    once(child, 'exit').then(([code]) => { throw new Error(`${what} exited ${String(code)}: ${stderr}`) })
  ])
  return line
}

/** Alice in her own process: publishes `messages` in `publishes` batches, then stays online. */
async function writerProcess (casDir: string, messages: number, publishes: number): Promise<{ address: string, length: number, kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, await tempDir('remotelog-hcp-alice-'), JSON.stringify(config(casDir)), String(messages), String(publishes)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const kill = killer(child)
  return { ...JSON.parse(await firstLine(child, 'the writer')) as { address: string, length: number }, kill }
}

interface SeedStatus { name: string, length: number, hasHead: boolean, peers: number }

/** `remotelog seed ADDRESS` in its own process; resolves with the status it prints once caught up. */
async function seederProcess (casDir: string, address: string): Promise<{ status: SeedStatus, kill: () => Promise<void> }> {
  const child = spawn(process.execPath, [bin, '--dir', await stateDir(casDir, 'remotelog-hcp-seeder-'), '--json', 'seed', address], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const kill = killer(child)
  const printed = JSON.parse(await firstLine(child, 'the seeder')) as { status: SeedStatus[] }
  return { status: printed.status[0], kill }
}

/** A fresh reader: `remotelog follow ADDRESS --as alice` then `remotelog sync alice`, each its own process. */
async function readerSync (casDir: string, address: string): Promise<{ report?: SyncReport, error?: { code: string, message: string }, exit: number | null }> {
  const dir = await stateDir(casDir, 'remotelog-hcp-reader-')
  const followed = await runCli(['--dir', dir, '--json', 'follow', address, '--as', 'alice'])
  expect(followed.code, followed.stderr).toBe(0)
  const synced = await runCli(['--dir', dir, '--json', 'sync', 'alice'])
  const [result] = JSON.parse(synced.stdout) as Array<SyncReport & { error?: { code: string, message: string } }>
  return { report: result.error === undefined ? result : undefined, error: result.error, exit: synced.code }
}

/** The address of a log whose owner never published. */
function unpublishedAddress (): string {
  return `hypercore:${nameOfCoreKey(coreKeyOf(hypercoreKeyPair({ label: 'nobody', secret: randomBytes(32) })))}`
}

describe('Hypercore with writer, seeder and readers in separate processes on one host', () => {
  it('a fresh reader catches up from the writer, then through the seeder alone, with no stall', async () => {
    const started = performance.now()
    const casDir = await tempDir('remotelog-hcp-cas-')
    const alice = await writerProcess(casDir, 300, 3)
    expect(alice.length).toBe(300)

    const seeder = await seederProcess(casDir, alice.address)
    expect(seeder.status).toMatchObject({ length: 3, hasHead: true }) // one head record per publish

    const bob = await readerSync(casDir, alice.address)
    expect(bob.error).toBeUndefined()
    expect(bob.report).toMatchObject({ published: true, delivered: 300, length: 300 })

    await alice.kill()
    const carol = await readerSync(casDir, alice.address) // only the seeder serves the log now
    expect(carol.error).toBeUndefined()
    expect(carol.report).toMatchObject({ published: true, delivered: 300, length: 300 })
    // Four connections between processes: a ~13 s stall on any of them would show here (process
    // start-ups included; without the stall this takes a few seconds).
    expect(performance.now() - started).toBeLessThan(45_000)
  }, 120_000)

  it('sync tells "not published yet" (a peer answered: no head) from "no peer answered" (UNAVAILABLE)', async () => {
    const casDir = await tempDir('remotelog-hcp-cas-')
    // Nobody on the DHT serves this log: no peer can say whether anything was published.
    const nobody = await readerSync(casDir, unpublishedAddress())
    expect(nobody.report).toBeUndefined()
    expect(nobody.error?.code).toBe('UNAVAILABLE')
    expect(nobody.error?.message).toMatch(/no peer answered/)
    expect(nobody.exit).toBe(9)

    // A seeder holds the log's (still empty) core: it answers that there is no head.
    const address = unpublishedAddress()
    const seeder = await seederProcess(casDir, address)
    expect(seeder.status).toMatchObject({ length: 0, hasHead: false })
    const early = await readerSync(casDir, address)
    expect(early.error).toBeUndefined()
    expect(early.report).toMatchObject({ published: false, delivered: 0, length: 0 })
    expect(early.exit).toBe(0)
  }, 120_000)
})
