import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openEndpoint } from '../config/open-endpoint.js'
import { defaultConfig, type Config } from '../config/config.js'
import type { Endpoint } from '../core/endpoint.js'
import { tempDir } from './support/temp-dir.js'

const text = (p?: Uint8Array): string => new TextDecoder().decode(p)

async function readTexts (endpoint: Endpoint, alias: string): Promise<string[]> {
  const out: string[] = []
  for await (const m of endpoint.read(alias)) out.push(m.tombstone ? '(scrubbed)' : text(m.payload))
  return out
}

/** Alice writes 120 messages in pointer mode, exports them; returns the pack, her address and key. */
async function alicesBackup (root: string): Promise<{ file: string, address: string, secret: Uint8Array, config: Config }> {
  const config: Config = { ...defaultConfig(join(root, 'store')), log: { mode: 'pointer', pageEntries: 25 } }
  const alice = await openEndpoint({ dir: join(root, 'alice'), config })
  try {
    await alice.append(Array.from({ length: 100 }, (_, i) => `a${i}`))
    await alice.publish()
    await alice.append(Array.from({ length: 20 }, (_, i) => `b${i}`))
    await alice.publish()
    const file = join(root, 'alice.car')
    await alice.exportPack('default', file)
    return { file, address: await alice.address(), secret: (await alice.owner()).secret, config }
  } finally {
    await alice.close()
  }
}

describe('restoring a log on a new device from a pack', () => {
  it('a device with a fresh store and name system continues the same log at the same address', async () => {
    const root = await tempDir()
    const backup = await alicesBackup(root)
    const phoneConfig: Config = { ...defaultConfig(join(root, 'phone-store')), log: backup.config.log }
    const phone = await openEndpoint({ dir: join(root, 'phone'), config: phoneConfig })
    try {
      const imported = await phone.importPack(backup.file, { restore: 'default', key: backup.secret })
      expect(imported.restored).toMatchObject({ address: backup.address, length: 120, revision: 2, published: true })
      expect(await phone.address()).toBe(backup.address)
      const writer = await phone.writer()
      expect({ length: writer.length, revision: writer.revision, head: writer.head?.toString() }).toEqual({ length: 120, revision: 2, head: imported.head })

      expect(await phone.append(['from the phone'])).toEqual([120])
      const published = await phone.publish()
      expect(published).toMatchObject({ length: 121, revision: 3 })

      // A reader of the phone's store follows the (unchanged) address and gets the whole log.
      const bob = await openEndpoint({ dir: join(root, 'bob'), config: phoneConfig })
      try {
        await bob.follow(backup.address, 'alice')
        expect((await bob.sync('alice')).delivered).toBe(121)
        const texts = await readTexts(bob, 'alice')
        expect(texts.slice(0, 2)).toEqual(['a0', 'a1'])
        expect(texts.slice(99, 101)).toEqual(['a99', 'b0'])
        expect(texts[120]).toBe('from the phone')

        // A follower can back the log up too, by alias or by address: the same pack as the writer's.
        const byWriter = await phone.exportPack('log:default', join(root, 'w.car'))
        const byAlias = await bob.exportPack('alice', join(root, 'a.car'))
        await bob.exportPack(backup.address, join(root, 'b.car'))
        expect(byAlias).toMatchObject({ head: byWriter.head, length: 121, address: backup.address })
        expect(Buffer.compare(await readFile(join(root, 'a.car')), await readFile(join(root, 'w.car')))).toBe(0)
        expect(Buffer.compare(await readFile(join(root, 'b.car')), await readFile(join(root, 'w.car')))).toBe(0)
        await expect(bob.exportPack('nobody', join(root, 'n.car'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
      } finally {
        await bob.close()
      }
    } finally {
      await phone.close()
    }
  })

  it('on the same name system (already pointing at the head) nothing is republished; restoring twice is a no-op', async () => {
    const root = await tempDir()
    const backup = await alicesBackup(root)
    // Same shared names folder, an empty block store: the blocks were lost, the name was not.
    const config: Config = { ...backup.config, cas: { driver: 'local', path: join(root, 'fresh-blocks') } }
    const phoneDir = join(root, 'phone')
    let phone = await openEndpoint({ dir: phoneDir, config })
    try {
      const first = await phone.importPack(backup.file, { restore: 'default', key: backup.secret })
      expect(first.restored?.published).toBe(false)
    } finally {
      await phone.close()
    }
    phone = await openEndpoint({ dir: phoneDir, config })
    try {
      const again = await phone.importPack(backup.file, { restore: 'default' }) // the key is kept now
      expect(again.restored).toMatchObject({ published: false, length: 120 })
      await phone.append(['after restore'])
      expect(await phone.publish()).toMatchObject({ length: 121, revision: 3 })
    } finally {
      await phone.close()
    }
  })

  it('refuses another key, a log with history, a missing key, and a name that moved past the pack', async () => {
    const root = await tempDir()
    const backup = await alicesBackup(root)
    const config: Config = { ...defaultConfig(join(root, 'phone-store')), log: backup.config.log }

    const stranger = await openEndpoint({ dir: join(root, 'stranger'), config })
    try {
      await expect(stranger.importPack(backup.file, { restore: 'default' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/no key/) })
      await stranger.owner() // creates a key of its own
      await expect(stranger.importPack(backup.file, { restore: 'default' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/restore with the old device's key/) })
      await stranger.append(['mine'])
      await stranger.publish()
    } finally {
      await stranger.close()
    }
    const reopened = await openEndpoint({ dir: join(root, 'stranger'), config })
    try {
      // Its own key has written history now: the old device's key may not replace it.
      await expect(reopened.importPack(backup.file, { restore: 'default', key: backup.secret })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/another key/) })
    } finally {
      await reopened.close()
    }

    // A device that already wrote to this log (with the same key) has history of its own.
    const used = join(root, 'used')
    await mkdir(used, { recursive: true })
    await writeFile(join(used, 'keys.json'), JSON.stringify({ logs: { default: Buffer.from(backup.secret).toString('hex') } }))
    let device = await openEndpoint({ dir: used, config })
    try {
      await device.append(['written here first'])
      await device.publish()
    } finally {
      await device.close()
    }
    device = await openEndpoint({ dir: used, config })
    try {
      await expect(device.importPack(backup.file, { restore: 'default' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already has history/) })
      await device.writer()
      await expect(device.importPack(backup.file, { restore: 'default' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already open/) })
    } finally {
      await device.close()
    }

    // The old device kept writing after the backup: restoring the old pack into its store would roll the log back.
    const alice = await openEndpoint({ dir: join(root, 'alice'), config: backup.config })
    try {
      await alice.append(['after the backup'])
      await alice.publish()
    } finally {
      await alice.close()
    }
    const twin = await openEndpoint({ dir: join(root, 'twin'), config: backup.config })
    try {
      await expect(twin.importPack(backup.file, { restore: 'default', key: backup.secret })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/not older than this pack/) })
      expect((await twin.writer()).length).toBe(0)
    } finally {
      await twin.close()
    }
  })
})
