import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../config/config.js'
import { initConfig } from '../config/presets.js'
import { openEndpoint } from '../config/open-endpoint.js'
import type { Endpoint, SyncReport } from '../core/endpoint.js'
import { startDevnet, type Devnet } from '../devnet/devnet.js'
import { cli, runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const NS = ['local', 'twirp', 'ens', 'hypercore'] as const
const CAS = ['local', 'helia', 'kubo', 'twirp'] as const
const FIRST = 200
const MORE = 50
const text = (i: number): string => `message ${i} from alice`

let devnet: Devnet
beforeAll(async () => { devnet = await startDevnet({ dir: await tempDir('remotelog-profiles-devnet-') }) }, 90_000)
afterAll(async () => { await devnet?.stop() })

/**
 * Syncs, again while the name is not found (at most 3 times): a cold Hypercore reader's first DHT
 * lookup can miss every peer on a loaded machine, and a user would simply sync again.
 */
async function syncFound (reader: Endpoint, alias: string): Promise<SyncReport> {
  let report = await reader.sync(alias)
  for (let i = 1; !report.published && i < 3; i++) report = await reader.sync(alias)
  return report
}

/** Reads a followed log back and checks every message is there once, in order, byte for byte. */
async function expectLog (reader: Endpoint, length: number): Promise<void> {
  let seq = 0
  for await (const m of reader.read('alice')) {
    expect(m.seq).toBe(seq)
    expect(new TextDecoder().decode(m.payload)).toBe(text(seq))
    seq++
  }
  expect(seq).toBe(length)
}

describe('the same end-to-end scenario on every NS × CAS profile of one devnet', () => {
  const combos = NS.flatMap(ns => CAS.map(cas => ({ ns, cas })))

  it.each(combos)('ns $ns + cas $cas: append 200, offline reader catches up, writer offline, new reader catches up', async ({ ns, cas }) => {
    const root = await tempDir(`remotelog-profile-${ns}-${cas}-`)
    const tag = Math.random().toString(36).slice(2, 8)
    // The only thing that differs between the 16 runs: the config, from the devnet profile's presets.
    const open = async (who: string): Promise<Endpoint> => {
      const dir = join(root, who)
      const config = { ...initConfig({ stateDir: dir, store: join(root, 'store'), devnet: devnet.settings, ns, cas, name: `${who}-${tag}` }), log: { mode: 'pointer' as const, pageEntries: 64 } }
      return await openEndpoint({ dir, config })
    }
    // Nothing is arranged for alice going offline: the devnet presets have every Helia put pinned on
    // the devnet's node and every Hypercore publish replicated by its seeder before they return.

    const alice = await open('alice')
    let bob: Endpoint | undefined
    let carol: Endpoint | undefined
    try {
      const address = await alice.address()
      expect(address.startsWith(`${ns}:`)).toBe(true)
      for (let batch = 0; batch < 4; batch++) {
        await alice.append(Array.from({ length: FIRST / 4 }, (_, i) => text(batch * FIRST / 4 + i)))
        expect(await alice.publish()).toMatchObject({ length: (batch + 1) * FIRST / 4 })
      }

      // bob was offline while alice wrote; he catches up with everything.
      bob = await open('bob')
      await bob.follow(address, 'alice')
      expect(await syncFound(bob, 'alice')).toMatchObject({ delivered: FIRST, length: FIRST })
      await expectLog(bob, FIRST)
      await bob.close()

      // alice writes more, then goes offline.
      await alice.append(Array.from({ length: MORE }, (_, i) => text(FIRST + i)))
      expect(await alice.publish()).toMatchObject({ length: FIRST + MORE })
      await alice.close()

      // bob comes back and gets exactly what is new; carol, who never met alice, gets it all.
      bob = await open('bob')
      expect(await syncFound(bob, 'alice')).toMatchObject({ delivered: MORE, length: FIRST + MORE })
      await expectLog(bob, FIRST + MORE)
      carol = await open('carol')
      await carol.follow(address, 'alice')
      expect(await syncFound(carol, 'alice')).toMatchObject({ delivered: FIRST + MORE, length: FIRST + MORE })
      await expectLog(carol, FIRST + MORE)
      expect(await carol.sync('alice')).toMatchObject({ delivered: 0, nsRequests: 1, casRequests: 0 })
    } finally {
      await Promise.allSettled([alice.close(), bob?.close(), carol?.close()])
    }
  })
})

describe('remotelog init --profile devnet: the CLI wired to the running devnet by config alone', () => {
  it('alice on hypercore + helia appends through the CLI and her process ends; bob on ens + helia, opened from his config file, syncs it all', async () => {
    const root = await tempDir('remotelog-profile-cli-')
    const tag = Math.random().toString(36).slice(2, 8)
    const alice = join(root, 'alice')
    const bob = join(root, 'bob')
    const init = async (dir: string, ns: string): Promise<Record<string, unknown>> => JSON.parse(await cli(['--dir', dir, '--json', 'init', '--profile', 'devnet', '--devnet', devnet.settingsFile, '--ns', ns, '--cas', 'helia', '--name', `${basename(dir)}-${tag}`]))
    expect(await init(alice, 'hypercore')).toMatchObject({ profile: 'devnet', cas: 'helia', ns: 'hypercore' })
    expect(await init(bob, 'ens')).toMatchObject({ profile: 'devnet', cas: 'helia', ns: 'ens', name: `bob-${tag}` })
    const config = JSON.parse(await readFile(join(alice, 'config.json'), 'utf8')) as Config
    expect(config.cas).toMatchObject({ driver: 'helia', offline: false, peers: devnet.settings.ipfs.helia.multiaddrs, pinService: devnet.settings.control.url })
    expect(config.ns).toMatchObject({ driver: 'hypercore', bootstrap: devnet.settings.hypercore.bootstrap, seedService: devnet.settings.control.url })
    expect(Object.keys(config.resolvers ?? {}).sort()).toEqual([...(devnet.settings.dns !== undefined ? ['dns'] : []), 'ens', 'ipns', 'local', 'twirp'])

    const messages = Array.from({ length: 30 }, (_, i) => text(i))
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'append', '--stdin'], { input: messages.join('\n') + '\n' }))).toMatchObject({ appended: 30, published: true })
    // alice's Helia node and Hypercore peer ended with her process: bob gets the head record from the
    // devnet's seeder and every block from the devnet's Helia node.
    const address = (await cli(['--dir', alice, 'address'])).trim()
    expect(address).toMatch(/^hypercore:[a-z0-9]{52}$/)
    const reader = await openEndpoint({ dir: bob })
    try {
      await reader.follow(address, 'alice')
      expect(await syncFound(reader, 'alice')).toMatchObject({ delivered: 30, length: 30 })
      await expectLog(reader, 30)
    } finally {
      await reader.close()
    }
  })

  it('--remote wires both roles to a service; ENS without a devnet is refused with a reason', async () => {
    const root = await tempDir('remotelog-profile-cli-')
    await cli(['--dir', join(root, 'r'), 'init', '--remote', devnet.settings.service.url])
    const config = JSON.parse(await readFile(join(root, 'r', 'config.json'), 'utf8')) as Config
    expect(config.cas).toMatchObject({ driver: 'twirp', url: devnet.settings.service.url })
    expect(config.ns).toMatchObject({ driver: 'twirp', url: devnet.settings.service.url })

    const refused = await runCli(['--dir', join(root, 'e'), 'init', '--ns', 'ens'], { env: { REMOTELOG_DEVNET: join(root, 'no-devnet-here') } })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/--profile devnet/)
    // With a devnet running at the default place, `init --ns ens --name alice` needs no profile flag.
    await cli(['--dir', join(root, 'a'), 'init', '--ns', 'ens', '--name', 'alice'], { env: { REMOTELOG_DEVNET: devnet.settings.dir } })
    const ens = JSON.parse(await readFile(join(root, 'a', 'config.json'), 'utf8')) as Config
    expect(ens).toMatchObject({ name: 'alice', ns: { driver: 'ens', rpcUrl: devnet.settings.ethereum.rpcUrl } })
    const missing = await runCli(['--dir', join(root, 'm'), 'init', '--profile', 'devnet', '--devnet', join(root, 'nowhere'), '--ns', 'hypercore'])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/no devnet settings/)
  })
})
