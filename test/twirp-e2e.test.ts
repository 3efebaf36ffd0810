import { describe, expect, it } from 'vitest'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { remoteConfig } from '../service/remote-config.js'
import { tempDir } from './support/temp-dir.js'

describe('two endpoints through one remote log service', () => {
  it('alice and bob, separate state dirs and no shared disk store, sync 1,000 messages', async () => {
    const token = 'alice-and-bob-write-token'
    const service = await startRemoteLogService({ dir: await tempDir('remotelog-service-'), writeToken: token })
    const config: Config = { ...remoteConfig(service.url, { token }), log: { mode: 'pointer', pageEntries: 64 } }
    const alice = await openEndpoint({ dir: await tempDir('remotelog-alice-'), config })
    const bob = await openEndpoint({ dir: await tempDir('remotelog-bob-'), config })
    try {
      const address = await alice.address()
      expect(address).toMatch(/^twirp:b[a-z2-7]+$/)
      await bob.follow(address, 'alice')

      const messages = Array.from({ length: 1_000 }, (_, i) => `message ${i} from alice`)
      // Four publishes; bob catches up half-way and at the end.
      for (let batch = 0; batch < 4; batch++) {
        await alice.append(messages.slice(batch * 250, (batch + 1) * 250))
        const published = await alice.publish()
        expect(published?.length).toBe((batch + 1) * 250)
        if (batch === 1) expect((await bob.sync('alice')).delivered).toBe(500)
      }
      const rest = await bob.sync('alice')
      expect(rest).toMatchObject({ delivered: 500, length: 1_000 })

      const received: string[] = []
      for await (const m of bob.read('alice')) {
        expect(m.seq).toBe(received.length)
        received.push(new TextDecoder().decode(m.payload))
      }
      expect(received).toEqual(messages)

      // Nothing new: one Fetch, no CAS request.
      expect(await bob.sync('alice')).toMatchObject({ delivered: 0, nsRequests: 1, casRequests: 0 })
    } finally {
      await Promise.allSettled([alice.close(), bob.close()])
      await service.stop()
    }
  })

  it('a writer without the service\'s write token cannot publish', async () => {
    const service = await startRemoteLogService({ dir: await tempDir('remotelog-service-'), writeToken: 'the-token' })
    const mallory = await openEndpoint({ dir: await tempDir('remotelog-mallory-'), config: { ...remoteConfig(service.url), log: { mode: 'pointer' } } })
    try {
      await mallory.append(['hello'])
      await expect(mallory.publish()).rejects.toMatchObject({ code: 'PERMISSION' })
    } finally {
      await mallory.close()
      await service.stop()
    }
  })
})
