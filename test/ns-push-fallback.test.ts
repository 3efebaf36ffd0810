import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import type { CID } from 'multiformats/cid'
import { localNs } from '../adapters/ns/local.js'
import { cidOf } from '../core/ids.js'
import type { ResolvedHead } from '../core/name-system.js'
import { tempDir } from './support/temp-dir.js'

// A platform without file-system notifications: fs.watch throws, as it does where Node has no
// backend for it. The local NS's watch then polls every pollMs, and still delivers every head.
const watchCalls = vi.hoisted(() => ({ count: 0 }))
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const unavailable = (): never => {
    watchCalls.count++
    throw Object.assign(new Error('fs.watch is not available on this platform'), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
  }
  return { ...fs, default: { ...fs, watch: unavailable }, watch: unavailable }
})

describe('local NS without file-system notifications', () => {
  it('falls back to polling every pollMs, delivering every head up to the last', async () => {
    const names = await tempDir()
    const writer = localNs({ path: names })
    const owner = { label: 'default', secret: randomBytes(32) }
    const name = await writer.nameOf(owner)
    const reader = localNs({ path: names })
    const controller = new AbortController()
    const seen: ResolvedHead[] = []
    const watching = (async () => {
      for await (const head of reader.watch!(name, { signal: controller.signal, pollMs: 20 })) seen.push(head)
    })()
    let previous: CID | undefined
    for (let revision = 1; revision <= 5; revision++) {
      const head = cidOf(randomBytes(16))
      await writer.publish(name, { head, length: revision, revision }, owner, { previous })
      previous = head
      while (seen.at(-1)?.revision !== revision) await new Promise(resolve => setTimeout(resolve, 5))
    }
    controller.abort()
    await watching
    expect(watchCalls.count).toBeGreaterThan(0)
    expect(seen.at(-1)?.head.toString()).toBe(previous?.toString())
  })
})
