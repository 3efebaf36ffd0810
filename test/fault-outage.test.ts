import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { allOf, measureOutage, outageCell } from '../compare/outage.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Endpoint } from '../core/endpoint.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { remoteConfig } from '../service/remote-config.js'
import { startFaultProxy, type FaultProxy } from '../compare/fault-proxy.js'
import { tempDir } from './support/temp-dir.js'

// compare's "survives a 3 s outage" measurement, on the remote log service behind a fault proxy.
describe('measureOutage', () => {
  let service: { url: string, stop: () => Promise<void> }
  let proxy: FaultProxy
  beforeAll(async () => {
    service = await startRemoteLogService({ dir: await tempDir() })
    proxy = await startFaultProxy({ target: service.url })
  })
  afterAll(async () => { await proxy?.close(); await service?.stop() })

  async function pair (): Promise<{ alice: Endpoint, bob: Endpoint }> {
    const root = await tempDir()
    const config = { ...remoteConfig(proxy.url, { timeoutMs: 2000, retries: 0 }), log: { mode: 'pointer' as const } }
    const alice = await openEndpoint({ dir: join(root, 'alice'), config })
    const bob = await openEndpoint({ dir: join(root, 'bob'), config })
    await bob.follow(await alice.address(), 'alice')
    return { alice, bob }
  }

  it('a follower across a 3 s outage recovers with every message once, and says how long it took', async () => {
    const { alice, bob } = await pair()
    try {
      const started = performance.now()
      const result = await measureOutage({ writer: alice, reader: bob, alias: 'alice', fault: proxy }, { backoff: { initialMs: 100, maxMs: 1000 } })
      expect(result).toMatchObject({ recovered: true, lost: 0, duplicated: 0 })
      expect(result.error).toBeUndefined()
      expect(result.retries).toBeGreaterThan(0)
      // Back within the backoff's cap (1 s) plus a publish and a sync.
      expect(result.recoveryMs).toBeGreaterThanOrEqual(0)
      expect(result.recoveryMs).toBeLessThan(5000)
      expect(performance.now() - started).toBeGreaterThanOrEqual(3000)
      expect(outageCell(result)).toMatch(/^✓ \d+\.\d s$/)
      const texts: string[] = []
      for await (const m of bob.read('alice')) texts.push(new TextDecoder().decode(m.payload))
      expect(texts).toEqual(Array.from({ length: 13 }, (_, i) => `outage-${i}`))
    } finally {
      await alice.close()
      await bob.close()
    }
  }, 60_000)

  it('reports a backend that never comes back as not recovered, with what was lost', async () => {
    const { alice, bob } = await pair()
    // Comes back only after the measurement gave up.
    const stuck = { goDown: async () => { await proxy.goDown() }, comeUp: async () => {} }
    try {
      const result = await measureOutage({ writer: alice, reader: bob, alias: 'alice', fault: allOf([stuck]) }, { outageMs: 300, timeoutMs: 1500, backoff: { initialMs: 100, maxMs: 300 } })
      expect(result.recovered).toBe(false)
      expect(result.recoveryMs).toBeUndefined()
      expect(result.error).toMatch(/UNAVAILABLE|TIMEOUT/)
      expect(result.duplicated).toBe(0)
      expect(outageCell(result)).toMatch(/^✗ /)
    } finally {
      await proxy.comeUp()
      await alice.close()
      await bob.close()
    }
  }, 60_000)
})
