import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensAdversary } from '../compare/adversary-ens.js'
import { probeForeignWrite, probeRollback } from '../compare/probe.js'
import type { Config } from '../config/config.js'
import { startEnsDevnet, type EnsDevnet } from '../devnet/ens-devnet.js'
import { fundedAccounts } from '../devnet/funded-accounts.js'
import { attackedLog, expectOutcome, type AttackedLog } from './support/adversary-log.js'
import { tempDir } from './support/temp-dir.js'

let ens: EnsDevnet
let attackerKey: string
beforeAll(async () => {
  ens = await startEnsDevnet()
  attackerKey = (await fundedAccounts(ens.rpcUrl, 2))[1].privateKey // funded, and owns nothing
}, 60_000)
afterAll(async () => { await ens?.stop() })

/** A log on ENS (local CAS), attacked with transactions sent straight to the name's resolver. */
async function ensLog (): Promise<AttackedLog> {
  const store = await tempDir('remotelog-adversary-ens-')
  const label = `victim${randomBytes(4).toString('hex')}`
  const config = (): Config => ({ cas: { driver: 'local', path: join(store, 'blocks') }, ns: ens.nsConfig, name: label })
  return await attackedLog({ config, adversary: async name => ensAdversary({ rpcUrl: ens.rpcUrl, registry: ens.registry, attackerKey, name }) })
}

describe('raw adversaries on ENS (transactions straight to the resolver, no ENS helpers, no pre-checks)', () => {
  it('another funded account\'s setContenthash for the victim\'s node: mined and reverted by the resolver, the contenthash stays', async () => {
    const log = await ensLog()
    const outcome = await probeForeignWrite(log.ctx, log.adversary, log.owner)
    expectOutcome(outcome, 'refused by the backend')
    const answer = outcome.evidence![0].backend
    expect(answer).toMatchObject({ accepted: false, txStatus: 0 })
    expect(answer.txHash).toMatch(/^0x[0-9a-f]{64}$/)
    expect(answer.revertReason).toMatch(/reverted without a reason string/)
  }, 60_000)

  it('the owner sending its first contenthash again: the chain applies it (ENS keeps no revision), every reader that saw newer refuses it (CONFLICT)', async () => {
    const log = await ensLog()
    const outcome = await probeRollback(log.ctx, log.adversary, log.owner, log.first)
    expectOutcome(outcome, 'accepted by the backend, refused by every reader', 'CONFLICT')
    expect(outcome.evidence![0].backend).toMatchObject({ accepted: true, txStatus: 1 })
    // A reader that never saw newer follows the older head: a consistent prefix, shown but not counted.
    expect(outcome.evidence![0].readers.find(r => r.counted === false)).toMatchObject({ sawNewer: false, length: log.first.record.length, intact: true })
    // The probe restored the newer head (the owner's own transaction): the readers read on.
    expect(await log.adversary.head()).toBe(log.head.toString())
    for (const r of log.ctx.readers) expect((await r.endpoint.sync('w')).length).toBe(10)
  }, 60_000)
})
