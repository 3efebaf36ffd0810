import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import type { Endpoint, SyncReport } from '../core/endpoint.js'
import { hypercoreNs } from '../adapters/ns/hypercore.js'
import { startSeeder } from '../adapters/ns/hypercore-seeder.js'
import { startHypercoreTestnet, type HypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { tempDir } from './support/temp-dir.js'

const writerScript = fileURLToPath(new URL('./support/hypercore-writer.ts', import.meta.url))
const TIMEOUT_MS = 5000
let testnet: HypercoreTestnet
beforeAll(async () => { testnet = await startHypercoreTestnet() })
afterAll(async () => { await testnet?.stop() })

function config (casDir: string): Config {
  return {
    cas: { driver: 'local', path: casDir },
    ns: { driver: 'hypercore', bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS },
    log: { mode: 'pointer' }
  }
}

async function open (casDir: string): Promise<Endpoint> {
  const endpoint = await openEndpoint({ dir: await tempDir('remotelog-hc-endpoint-'), config: config(casDir) })
  onTestFinished(async () => { await endpoint.close() })
  return endpoint
}

/** Starts alice in a child process that publishes `messages` in `publishes` batches and stays online. */
async function aliceProcess (casDir: string, messages: number, publishes: number): Promise<{ address: string, length: number, kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, await tempDir(), JSON.stringify(config(casDir)), String(messages), String(publishes)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  onTestFinished(kill)
  const lines = createInterface({ input: child.stdout })
  const [line] = await Promise.race([
    once(lines, 'line') as Promise<[string]>,
    once(child, 'exit').then(([code]) => { throw new Error(`alice exited ${String(code)}: ${stderr}`) })
  ])
  return { ...JSON.parse(line) as { address: string, length: number }, kill }
}

describe('Hypercore end to end (local CAS, hypercore NS on a local DHT testnet)', () => {
  it('bob, who never met alice, syncs her 200 messages through a seeder after her process is killed', async () => {
    const casDir = await tempDir('remotelog-hc-cas-')
    const alice = await aliceProcess(casDir, 200, 4)
    expect(alice.address).toMatch(/^hypercore:[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
    expect(alice.length).toBe(200)

    const seeder = await startSeeder({ storage: await tempDir('remotelog-hc-seeder-'), bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS })
    onTestFinished(async () => { await seeder.close() })
    const seeded = await seeder.seed(alice.address)
    expect(seeded).toMatchObject({ length: 4, hasHead: true }) // one head record per publish

    await alice.kill()

    const bob = await open(casDir)
    await bob.follow(alice.address, 'alice')
    const result = await bob.sync('alice')
    expect(result).toMatchObject({ delivered: 200, length: 200 })
    let seq = 0
    for await (const m of bob.read('alice')) {
      expect(m.seq).toBe(seq)
      expect(new TextDecoder().decode(m.payload)).toBe(`message ${seq} from alice`)
      seq++
    }
    expect(seq).toBe(200)

    // Without the seeder nobody serves the log: a cold reader fails within its timeout, despite
    // the DHT still listing the killed writer.
    await seeder.close()
    const carol = await hypercoreNs({ storage: await tempDir(), bootstrap: testnet.bootstrap, timeoutMs: 1500 })
    onTestFinished(async () => { await carol.close() })
    const start = performance.now()
    const error = await carol.resolve(alice.address.slice('hypercore:'.length)).catch(e => e)
    expect(['UNAVAILABLE', 'NOT_FOUND']).toContain(error.code)
    expect(performance.now() - start).toBeLessThan(1500 + 3000)
  })

  it('a live follower receives each of alice\'s next 50 publishes as it happens, without polling', async () => {
    const casDir = await tempDir('remotelog-hc-cas-')
    const alice = await open(casDir)
    await alice.append(['hello'])
    await alice.publish()
    const bob = await open(casDir)
    await bob.follow(await alice.address(), 'alice')

    const reports: SyncReport[] = []
    let changed: (() => void) | undefined
    const controller = new AbortController()
    onTestFinished(() => controller.abort())
    const following = (async () => {
      for await (const report of bob.watch('alice', { signal: controller.signal, pollMs: 60_000 })) {
        reports.push(report)
        changed?.()
      }
    })()
    following.catch(() => {})
    async function delivered (length: number): Promise<void> {
      const deadline = Date.now() + 10_000
      while ((reports.at(-1)?.length ?? 0) < length) {
        if (Date.now() > deadline) throw new Error(`bob has ${reports.at(-1)?.length ?? 0} messages, expected ${length}`)
        await new Promise<void>(resolve => { changed = resolve; setTimeout(resolve, 1000) })
      }
    }
    await delivered(1)
    for (let i = 0; i < 50; i++) {
      await alice.append([`live ${i}`])
      await alice.publish()
      await delivered(i + 2) // this publish reached bob before alice's next one
    }
    controller.abort()
    await following

    // Every sync after the first was triggered by a new head: none came back empty, as polls would.
    expect(reports.slice(1).every(r => r.delivered > 0)).toBe(true)
    expect(reports.reduce((sum, r) => sum + r.delivered, 0)).toBe(51)
    const texts: string[] = []
    for await (const m of bob.read('alice')) texts.push(new TextDecoder().decode(m.payload))
    expect(texts).toEqual(['hello', ...Array.from({ length: 50 }, (_, i) => `live ${i}`)])
  })
})
