import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { HeliaContentStore } from '../adapters/cas/helia.js'
import type { Config } from '../config/config.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Endpoint } from '../core/endpoint.js'
import { isRemoteLogError } from '../core/errors.js'
import { startFaultProxy } from '../compare/fault-proxy.js'
import { tempDir } from './support/temp-dir.js'

// The same proxy on a libp2p port (the way endpoints reach the devnet's Helia hub): bitswap over an
// encrypted, multiplexed TCP connection, cut mid-way through a catch-up sync.
describe('faults on a Helia node\'s libp2p port', () => {
  it('a catch-up sync whose libp2p connection is cut mid-way: the next sync (after a redial) completes it', async () => {
    const root = await tempDir()
    const config = (cas: Config['cas']): Config => ({ cas, ns: { driver: 'local', path: join(root, 'names') }, log: { mode: 'pointer', pageEntries: 64 } })
    const hub = await openEndpoint({ dir: join(root, 'hub'), config: config({ driver: 'helia', offline: false, listen: ['/ip4/127.0.0.1/tcp/0'], timeoutMs: 5000 }) })
    let bob: Endpoint | undefined
    const address = (hub.cas as HeliaContentStore).multiaddrs().find(a => a.startsWith('/ip4/127.0.0.1/tcp/'))!
    const [, , , , port, , peerId] = address.split('/')
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: Number(port) } })
    try {
      const texts = Array.from({ length: 600 }, (_, i) => `m${i}`)
      await hub.append(texts)
      await hub.publish()

      bob = await openEndpoint({ dir: join(root, 'bob'), config: config({ driver: 'helia', offline: false, listen: [], peers: [`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${peerId}`], timeoutMs: 2000 }) })
      await bob.follow(await hub.address(), 'hub')
      let cutAt: number | undefined
      const cut = await bob.sync('hub', {
        onProgress: (delivered) => {
          if (cutAt === undefined && delivered >= 540) { cutAt = delivered; void proxy.goDown() }
        }
      }).catch((e: unknown) => e)
      expect(cutAt).toBeDefined()
      expect(isRemoteLogError(cut, 'TIMEOUT') || isRemoteLogError(cut, 'UNAVAILABLE'), String(cut)).toBe(true)
      expect(proxy.stats.dropped).toBeGreaterThan(0)
      expect((await bob.following())[0].cursor.length).toBe(512)

      await proxy.comeUp()
      const done = await bob.sync('hub')
      expect(done).toMatchObject({ delivered: 88, length: 600 })
      const got: string[] = []
      for await (const m of bob.read('hub')) { expect(m.seq).toBe(got.length); got.push(new TextDecoder().decode(m.payload)) }
      expect(got).toEqual(texts)
    } finally {
      await proxy.close()
      await bob?.close()
      await hub.close()
    }
  }, 120_000)
})
