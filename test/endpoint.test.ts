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

describe('many logs and many follows', () => {
  it('writes several named logs and follows each with its own cursor', async () => {
    const root = await tempDir()
    const config = defaultConfig(join(root, 'store'))
    const alice = await openEndpoint({ dir: join(root, 'alice'), config })
    const bob = await openEndpoint({ dir: join(root, 'bob'), config })
    try {
      await alice.append(['d0', 'd1'])
      await alice.append(['w0'], { log: 'work' })
      await alice.publish()
      await alice.publish({ log: 'work' })
      expect(await alice.logs()).toEqual(['default', 'work'])
      expect(await alice.address('work')).not.toBe(await alice.address())
      await bob.follow(await alice.address(), 'alice')
      await bob.follow(await alice.address('work'), 'alice-work')
      const reports = await bob.syncAll()
      expect(reports.map(r => [r.alias, r.delivered])).toEqual([['alice', 2], ['alice-work', 1]])
      await alice.append(['w1', 'w2'], { log: 'work' })
      await alice.publish({ log: 'work' })
      const again = await bob.syncAll()
      expect(again.map(r => [r.alias, r.delivered, r.casRequests])).toEqual([['alice', 0, 0], ['alice-work', 2, 1]])
      const work: string[] = []
      for await (const m of bob.read('alice-work')) work.push(new TextDecoder().decode(m.payload))
      expect(work).toEqual(['w0', 'w1', 'w2'])
      await expect(bob.follow(await alice.address(), 'alice-work')).rejects.toThrow(/already follows/)
    } finally {
      await alice.close()
      await bob.close()
    }
  })

  it('a live follower receives each publish as it happens', async () => {
    const root = await tempDir()
    const config = defaultConfig(join(root, 'store'))
    const alice = await openEndpoint({ dir: join(root, 'alice'), config })
    const bob = await openEndpoint({ dir: join(root, 'bob'), config })
    try {
      await bob.follow(await alice.address(), 'alice')
      const controller = new AbortController()
      const lengths: number[] = []
      const following = (async () => {
        for await (const report of bob.watch('alice', { signal: controller.signal })) {
          if (report.delivered > 0) lengths.push(report.length)
          if (report.length >= 30) controller.abort()
        }
      })()
      for (let i = 0; i < 3; i++) {
        await alice.append(Array.from({ length: 10 }, (_, j) => `m${i * 10 + j}`))
        await alice.publish()
        await new Promise(resolve => setTimeout(resolve, 150))
      }
      const timer = setTimeout(() => controller.abort(), 10_000)
      await following
      clearTimeout(timer)
      expect(lengths.at(-1)).toBe(30)
      expect(lengths).toEqual([...lengths].sort((a, b) => a - b))
    } finally {
      await alice.close()
      await bob.close()
    }
  })
})
