import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { hypercoreNs } from '../adapters/ns/hypercore.js'
import { hypercoreKeyPair, manifestOf } from '../adapters/ns/hypercore-keys.js'
import { networkSettings } from '../adapters/ns/hypercore-options.js'
import { openPeer } from '../adapters/ns/hypercore-peer.js'
import { startSeeder } from '../adapters/ns/hypercore-seeder.js'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf } from '../core/ids.js'
import type { HeadRecord, ResolvedHead } from '../core/name-system.js'
import { startHypercoreTestnet, type HypercoreTestnet } from '../devnet/hypercore-testnet.js'
import { tempDir } from './support/temp-dir.js'

let testnet: HypercoreTestnet
beforeAll(async () => { testnet = await startHypercoreTestnet() })
afterAll(async () => { await testnet?.stop() })

const record = (revision: number): HeadRecord => ({ head: cidOf(randomBytes(16)), length: revision * 10, revision })

describe('hypercore reader whose only peer goes silent', () => {
  // Without dropping the silent peer the reader timed out on every resolve (4 of 4, 3 runs of 3): it
  // kept asking the connected writer and never looked for the seeder.
  it('times out once, then the same name system resolves through a seeder it had not met', async () => {
    // The writer, as a raw peer, so the test can silence its connections (a peer that is connected
    // but answers nothing: a blocked process, or a connection only one side believes in).
    const writerPeer = await openPeer(await tempDir('remotelog-silent-w-'), networkSettings({ bootstrap: testnet.bootstrap }))
    onTestFinished(async () => { await writerPeer.close() })
    const keyPair = hypercoreKeyPair({ label: 'w', secret: randomBytes(32) })
    const core = writerPeer.store.get({ keyPair, manifest: manifestOf(keyPair) })
    await core.ready()
    const name = core.id as string
    await core.append(Buffer.from(encodePointer(record(1))))
    await writerPeer.join(core, { server: true, client: false }).flushed()

    const reader = await hypercoreNs({ storage: await tempDir('remotelog-silent-r-'), bootstrap: testnet.bootstrap, timeoutMs: 1500 })
    onTestFinished(async () => { await reader.close() })
    expect((await reader.resolve(name)).revision).toBe(1)

    // A seeder that the reader has not met: it replicates everything from the writer.
    const seeder = await startSeeder({ storage: await tempDir('remotelog-silent-s-'), bootstrap: testnet.bootstrap, timeoutMs: 5000 })
    onTestFinished(async () => { await seeder.close() })
    expect(await seeder.seed(name)).toMatchObject({ length: 1, hasHead: true })
    await core.append(Buffer.from(encodePointer(record(2))))
    for (let i = 0; ; i++) {
      const status = await seeder.status(name)
      if (status.length === 2 && status.hasHead) break
      if (i > 200) throw new Error('the seeder did not replicate revision 2')
      await new Promise(resolve => setTimeout(resolve, 25))
    }

    // The writer goes silent: connected, but it reads nothing any more, on new connections too.
    const swarm = writerPeer.swarm as unknown as { connections: Set<{ pause: () => void }>, on: (event: 'connection', fn: (c: { pause: () => void }) => void) => void }
    for (const connection of swarm.connections) connection.pause()
    swarm.on('connection', connection => { connection.pause() })
    // It no longer announces itself either: whoever looks now finds only the seeder.
    await writerPeer.leave(core)
    const outcomes: Array<string | number | undefined> = []
    for (let i = 0; i < 4; i++) {
      const got: ResolvedHead | Error = await reader.resolve(name).catch((e: Error) => e)
      outcomes.push(got instanceof Error ? (got as { code?: string }).code : got.revision)
      if (outcomes.at(-1) === 2) break
    }
    expect(outcomes).toEqual(['TIMEOUT', 2])
    // Through the seeder: the writer and now the reader replicate from it.
    expect((await seeder.status(name)).peers).toBe(2)
  })
})
