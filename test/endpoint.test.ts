import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { openEndpoint } from '../config/open-endpoint.js'
import { defaultConfig } from '../config/config.js'
import { tempDir } from './support/temp-dir.js'

describe('endpoint on the local backends', () => {
  it('two state dirs sharing one store: alice publishes, bob follows and syncs only what is new', async () => {
    const root = await tempDir()
    const config = { ...defaultConfig(join(root, 'store')), log: { mode: 'inline' as const, pageEntries: 16 } }
    const alice = await openEndpoint({ dir: join(root, 'alice'), config })
    const bob = await openEndpoint({ dir: join(root, 'bob'), config })
    try {
      await alice.append(Array.from({ length: 100 }, (_, i) => `hello ${i}`))
      const published = await alice.publish()
      expect(published?.length).toBe(100)
      await bob.follow(await alice.address(), 'alice')
      const first = await bob.sync('alice')
      expect(first.delivered).toBe(100)
      const again = await bob.sync('alice')
      expect(again).toMatchObject({ delivered: 0, nsRequests: 1, casRequests: 0 })
      await alice.append(['one more'])
      await alice.publish()
      const third = await bob.sync('alice')
      expect(third.delivered).toBe(1)
      const texts: string[] = []
      for await (const m of bob.read('alice')) texts.push(new TextDecoder().decode(m.payload))
      expect(texts).toHaveLength(101)
      expect(texts[0]).toBe('hello 0')
      expect(texts[100]).toBe('one more')
      const own: number[] = []
      for await (const m of alice.read('default', { from: 98 })) own.push(m.seq)
      expect(own).toEqual([98, 99, 100])
    } finally {
      await alice.close()
      await bob.close()
    }
  })
})
