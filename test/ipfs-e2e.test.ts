import { describe, expect, it } from 'vitest'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Config } from '../config/config.js'
import type { Endpoint } from '../core/endpoint.js'
import { cidOf } from '../core/ids.js'
import type { HeliaContentStore } from '../adapters/cas/helia.js'
import { startIpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { tempDir } from './support/temp-dir.js'

const COUNT = 500
const text = (i: number): string => `message ${i} from alice`

function config (nsDir: string, cas: Config['cas']): Config {
  return { cas, ns: { driver: 'local', path: nsDir }, log: { mode: 'pointer' } }
}

/** Syncs `alias` into `reader` and checks that all COUNT messages arrived, in order, byte for byte. */
async function syncAndVerify (reader: Endpoint, address: string): Promise<void> {
  await reader.follow(address, 'alice')
  const result = await reader.sync('alice')
  expect(result.delivered).toBe(COUNT)
  expect(result.length).toBe(COUNT)
  let seq = 0
  for await (const m of reader.read('alice')) {
    expect(m.seq).toBe(seq)
    expect(new TextDecoder().decode(m.payload)).toBe(text(seq))
    seq++
  }
  expect(seq).toBe(COUNT)
}

async function writeAlice (alice: Endpoint): Promise<string> {
  await alice.append(Array.from({ length: COUNT }, (_, i) => text(i)))
  const published = await alice.publish()
  expect(published?.length).toBe(COUNT)
  return await alice.address()
}

describe('IPFS end to end: pointer-mode log of 500 messages', () => {
  it('helia: bob fetches everything over bitswap on 127.0.0.1; carol gets it from bob after alice stops', async () => {
    const nsDir = await tempDir()
    const helia = (more: Record<string, unknown> = {}): Config['cas'] => ({ driver: 'helia', offline: false, timeoutMs: 5000, ...more })
    const alice = await openEndpoint({ dir: await tempDir(), config: config(nsDir, helia()) })
    let bob: Endpoint | undefined
    let carol: Endpoint | undefined
    try {
      const address = await writeAlice(alice)
      const aliceAddrs = (alice.cas as HeliaContentStore).multiaddrs()

      // bob runs an always-on node: it pins every block it fetches
      bob = await openEndpoint({ dir: await tempDir(), config: config(nsDir, helia({ peers: aliceAddrs, pinOnGet: true })) })
      const someId = cidOf(new TextEncoder().encode(text(7)))
      expect(await bob.cas.has(someId)).toBe(false)
      await syncAndVerify(bob, address)
      expect(await (bob.cas as HeliaContentStore).isPinned(someId)).toBe(true)

      await alice.close()
      const bobAddrs = (bob.cas as HeliaContentStore).multiaddrs()
      carol = await openEndpoint({ dir: await tempDir(), config: config(nsDir, helia({ peers: bobAddrs })) })
      expect(await carol.cas.has(someId)).toBe(false)
      await syncAndVerify(carol, address)
    } finally {
      await Promise.allSettled([alice.close(), bob?.close(), carol?.close()])
    }
  })

  it('kubo: bob and carol read alice\'s log from the RPC node she wrote to, after alice is gone', async () => {
    const node = await startIpfsRpcNode()
    const nsDir = await tempDir()
    const kubo: Config['cas'] = { driver: 'kubo', url: node.url, timeoutMs: 5000 }
    const alice = await openEndpoint({ dir: await tempDir(), config: config(nsDir, kubo) })
    let bob: Endpoint | undefined
    let carol: Endpoint | undefined
    try {
      const address = await writeAlice(alice)
      bob = await openEndpoint({ dir: await tempDir(), config: config(nsDir, kubo) })
      await syncAndVerify(bob, address)
      await alice.close()
      carol = await openEndpoint({ dir: await tempDir(), config: config(nsDir, kubo) })
      await syncAndVerify(carol, address)
    } finally {
      await Promise.allSettled([alice.close(), bob?.close(), carol?.close()])
      await node.stop()
    }
  })
})
