import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hypercoreAdversary } from '../compare/adversary-hypercore.js'
import { probeForeignWrite, probeRollback } from '../compare/probe.js'
import { startSeeder, type Seeder } from '../adapters/ns/hypercore-seeder.js'
import type { Config } from '../config/config.js'
import { startHypercoreTestnet, type HypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { attackedLog, expectOutcome, type AttackedLog } from './support/adversary-log.js'
import { tempDir } from './support/temp-dir.js'

const TIMEOUT_MS = 5000
let testnet: HypercoreTestnet
let seeder: Seeder
beforeAll(async () => {
  testnet = await startHypercoreTestnet()
  seeder = await startSeeder({ storage: await tempDir('remotelog-adversary-seeder-'), bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS })
})
afterAll(async () => {
  await seeder?.close()
  await testnet?.stop()
})

/** A log on Hypercore (local CAS), kept by a seeder, attacked with bare Corestore/Hyperswarm peers. */
async function hypercoreLog (): Promise<AttackedLog> {
  const store = await tempDir('remotelog-adversary-hypercore-')
  const config = (): Config => ({ cas: { driver: 'local', path: join(store, 'blocks') }, ns: { driver: 'hypercore', bootstrap: testnet.bootstrap, timeoutMs: TIMEOUT_MS } })
  return await attackedLog({
    config,
    adversary: async (name, writerDir) => hypercoreAdversary({ bootstrap: testnet.bootstrap, writerStorage: join(writerDir, 'hypercore'), name, timeoutMs: TIMEOUT_MS }),
    afterPublish: async address => { await seeder.seed(address) }
  })
}

describe('raw adversaries on Hypercore (bare Corestore + Hyperswarm peers)', () => {
  it('a core under another key announced on the log\'s topic: never replicated as the log\'s, readers keep the owner\'s head', async () => {
    const log = await hypercoreLog()
    const outcome = await probeForeignWrite(log.ctx, log.adversary, log.owner)
    expectOutcome(outcome, 'refused by the backend')
    const e = outcome.evidence![0]
    expect(e.nameAfter).toBe(log.head.toString())
    expect(e.readers.map(r => [r.reader, r.length])).toEqual([['reader A', 10], ['reader B', 10], ['a new reader 1', 10]])
    expect(e.remarks?.[0]).toMatch(/foreign core's peer had \d+ connection/)
  }, 90_000)

  it('the owner truncating its core and appending its first head (a fork): peers take it, every reader that saw newer refuses it (CONFLICT)', async () => {
    const log = await hypercoreLog()
    await log.closeWriter() // the owner opens its own storage raw
    const outcome = await probeRollback(log.ctx, log.adversary, log.owner, log.first)
    expectOutcome(outcome, 'accepted by the backend, refused by every reader', 'CONFLICT')
    const e = outcome.evidence![0]
    expect(e.backend).toMatchObject({ accepted: true, short: 'fork served' })
    expect(e.backend.summary).toMatch(/truncated it from 3 to 2 blocks .* fork 1/)
  }, 90_000)
})
