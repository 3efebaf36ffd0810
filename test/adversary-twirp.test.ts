import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { twirpAdversary } from '../compare/adversary-twirp.js'
import { probeForeignWrite, probeRollback, probeStoreLies } from '../compare/probe.js'
import type { Config } from '../config/config.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { remoteConfig } from '../service/remote-config.js'
import { attackedLog, expectOutcome, type AttackedLog } from './support/adversary-log.js'
import { tempDir } from './support/temp-dir.js'

let service: { url: string, stop: () => Promise<void> }
beforeAll(async () => { service = await startRemoteLogService({ dir: await tempDir('remotelog-adversary-service-') }) })
afterAll(async () => { await service?.stop() })

/** A log on the remote log service (its CAS and NS), attacked with hand-made Twirp requests. */
async function servedLog (): Promise<AttackedLog> {
  const config = (): Config => remoteConfig(service.url)
  return await attackedLog({ config, adversary: async name => twirpAdversary({ url: service.url, name }) })
}

describe('raw adversaries on the remote log service (hand-made Twirp requests, no remotelog client)', () => {
  it('an Update signed by another key: the service refuses it (HTTP 403 permission_denied), the name stays, readers see nothing new', async () => {
    const log = await servedLog()
    const outcome = await probeForeignWrite(log.ctx, log.adversary, log.owner)
    expectOutcome(outcome, 'refused by the backend')
    expect(outcome.evidence![0].backend).toMatchObject({ accepted: false, status: 403, twirpCode: 'permission_denied' })
    expect(outcome.evidence![0].readers.map(r => [r.reader, r.delivered, r.length])).toEqual([['reader A', 0, 10], ['reader B', 0, 10], ['a new reader 1', 10, 10]])
  })

  it('a replay of the owner\'s older signed record: the service refuses it (HTTP 412 failed_precondition), the name stays', async () => {
    const log = await servedLog()
    const outcome = await probeRollback(log.ctx, log.adversary, log.owner, log.first)
    expectOutcome(outcome, 'refused by the backend')
    expect(outcome.evidence![0].backend).toMatchObject({ accepted: false, status: 412, twirpCode: 'failed_precondition' })
    expect(outcome.evidence![0].backend.summary).toMatch(/sequence 1 .* not above the current 3/)
    // Even a reader that never saw the newer head gets the newest log: the service kept it.
    expect(outcome.evidence![0].readers.find(r => r.counted === false)).toMatchObject({ length: 10, intact: true })
  })

  it('a lying store in front of the served CAS: every reader refuses it', async () => {
    const log = await servedLog()
    const outcome = await probeStoreLies(log.ctx, await log.liar(), { address: log.address, head: log.head, length: log.length })
    expect(outcome.verdict, outcome.how).toBe('accepted by the backend, refused by every reader')
    expect(outcome.evidence!.map(e => e.readers[0].code)).toEqual(['INTEGRITY', 'INTEGRITY', 'NOT_FOUND', 'INTEGRITY'])
  })
})
