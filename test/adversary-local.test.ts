import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { localAdversary } from '../compare/adversary-local.js'
import { probeForeignWrite, probeRollback, probeStoreLies } from '../compare/probe.js'
import type { Config } from '../config/config.js'
import { attackedLog, expectOutcome, type AttackedLog } from './support/adversary-log.js'
import { tempDir } from './support/temp-dir.js'

/** A log on the local CAS and NS in a temp store, attacked by writing files straight into its names folder. */
async function localLog (): Promise<{ log: AttackedLog, names: string }> {
  const store = await tempDir('remotelog-adversary-local-')
  const names = join(store, 'names')
  const config = (): Config => ({ cas: { driver: 'local', path: join(store, 'blocks') }, ns: { driver: 'local', path: names } })
  return { log: await attackedLog({ config, adversary: async name => localAdversary({ names, name }) }), names }
}

describe('raw adversaries on the local name system (files written straight into the names folder)', () => {
  it('another key\'s record file: the folder takes it, every reader refuses it (PERMISSION) and delivers nothing of it', async () => {
    const { log, names } = await localLog()
    const before = await readFile(join(names, `${log.name}.record`))
    const outcome = await probeForeignWrite(log.ctx, log.adversary, log.owner)
    expectOutcome(outcome, 'accepted by the backend, refused by every reader', 'PERMISSION')
    const e = outcome.evidence![0]
    expect(e.backend).toMatchObject({ accepted: true, short: 'file written' })
    // Two readers that synced before, and one that never did: each refused, each still holds the 10 messages it had (or none).
    expect(e.readers.map(r => [r.reader, r.code, r.length])).toEqual([['reader A', 'PERMISSION', 10], ['reader B', 'PERMISSION', 10], ['a new reader 1', 'PERMISSION', 0]])
    // The probe puts the owner's record back afterwards (raw), and the readers read on.
    expect(await readFile(join(names, `${log.name}.record`))).toEqual(before)
    for (const r of log.ctx.readers) expect((await r.endpoint.sync('w')).length).toBe(10)
  })

  it('the owner\'s older record copied back over the newer one: the folder takes it, every reader that saw newer refuses it (CONFLICT)', async () => {
    const { log } = await localLog()
    const outcome = await probeRollback(log.ctx, log.adversary, log.owner, log.first)
    expectOutcome(outcome, 'accepted by the backend, refused by every reader', 'CONFLICT')
    const e = outcome.evidence![0]
    expect(e.attackHead).toBe(log.first.record.head.toString())
    // A reader that never saw the newer head gets the older log — a consistent prefix — and is not counted.
    const fresh = e.readers.find(r => r.counted === false)!
    expect(fresh).toMatchObject({ sawNewer: false, length: log.first.record.length, intact: true, head: log.first.record.head.toString() })
  })

  it('a lying store (altered page, altered payload, withheld page, another log\'s page): every reader refuses with a typed error and records nothing unverified; honest again, the log completes once', async () => {
    const { log } = await localLog()
    const liar = await log.liar()
    const outcome = await probeStoreLies(log.ctx, liar, { address: log.address, head: log.head, length: log.length })
    expect(outcome.verdict, outcome.how).toBe('accepted by the backend, refused by every reader')
    expect(outcome.evidence!.map(e => [e.attack.replace(/ bafk\S+/, ' X'), e.readers[0].code])).toEqual([
      ['altered bytes of page X', 'INTEGRITY'],
      ['altered bytes of the payload of entry 5', 'INTEGRITY'],
      ['page X withheld', 'NOT_FOUND'],
      ['another log\'s page served for page X', 'INTEGRITY']
    ])
    for (const e of outcome.evidence!) {
      const [lying, honest] = e.readers
      expect(lying).toMatchObject({ fooled: false, intact: true })
      expect(honest).toMatchObject({ intact: true, length: 10 })
      expect(lying.delivered + honest.delivered).toBe(10)
      expect(e.backend.summary).toMatch(/served it [1-9]/)
    }
    // The altered payload sits on a later page: the reader delivered the verified messages before it, and kept them.
    const payload = outcome.evidence![1].readers[0]
    expect(payload.length).toBe(payload.delivered)
  })
})
