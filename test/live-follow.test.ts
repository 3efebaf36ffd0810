import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { Backoff } from '../core/backoff.js'
import type { ContentStore } from '../core/content-store.js'
import { Endpoint } from '../core/endpoint.js'
import { fail, isRemoteLogError, type ErrorCode } from '../core/errors.js'
import type { RetryEvent } from '../core/live-follow.js'
import type { NameSystem } from '../core/name-system.js'
import { tempDir } from './support/temp-dir.js'

/** A name system that fails with `failing.code` (resolve and watch alike) while `failing.code` is set. */
function flakyNs (inner: NameSystem, failing: { code?: ErrorCode, only?: string, calls: number }): NameSystem {
  const check = (name: string): void => {
    if (failing.code !== undefined && (failing.only === undefined || failing.only === name)) {
      failing.calls++
      throw fail(failing.code, `flaky ${name}`, { backend: 'flaky' })
    }
  }
  return {
    backend: 'flaky',
    scheme: inner.scheme,
    capabilities: inner.capabilities,
    nameOf: async (owner, o) => await inner.nameOf(owner, o),
    publish: async (name, record, owner, o) => await inner.publish(name, record, owner, o),
    resolve: async (name, o) => { check(name); return await inner.resolve(name, o) },
    // Polls like the record name systems do, failing while `failing.code` is set.
    async * watch (name, o) {
      let last: string | undefined
      while (o.signal?.aborted !== true) {
        check(name)
        const head = await inner.resolve(name, o).catch((e: unknown) => { if (!isRemoteLogError(e, 'NOT_FOUND')) throw e })
        if (head !== undefined && head.head.toString() !== last) {
          last = head.head.toString()
          yield head
        }
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    },
    close: async () => {}
  }
}

/** A CAS whose gets number `failAt` (1-based) fail with TIMEOUT (a flaky network mid-sync). */
function flakyCas (inner: ContentStore, failAt: number[]): ContentStore & { failures: number } {
  let gets = 0
  const cas = {
    ...inner,
    failures: 0,
    async get (id: Parameters<ContentStore['get']>[0], o?: Parameters<ContentStore['get']>[1]) {
      if (failAt.includes(++gets)) {
        cas.failures++
        throw fail('TIMEOUT', 'flaky get', { backend: 'flaky' })
      }
      return await inner.get(id, o)
    },
    close: async () => {}
  }
  return cas
}

interface Pair {
  alice: Endpoint
  bob: Endpoint
  failing: { code?: ErrorCode, only?: string, calls: number }
  cas: ContentStore & { failures?: number }
  /** Aborted by `close`, which then waits for `follow` before closing the endpoints. */
  controller: AbortController
  follow: (run: () => Promise<void>) => Promise<void>
  close: () => Promise<void>
}

async function pair (options: { casFailAt?: number[] } = {}): Promise<Pair> {
  const root = await tempDir()
  const ns = memoryNs({ pollMs: 5 })
  const store = memoryCas()
  const failing: { code?: ErrorCode, only?: string, calls: number } = { calls: 0 }
  const cas = options.casFailAt !== undefined ? flakyCas(store, options.casFailAt) : store
  const log = { mode: 'pointer' as const, pageEntries: 8 }
  const alice = await Endpoint.open({ dir: join(root, 'alice'), cas: store, ns: flakyNs(ns, {} as never as { calls: number }), log })
  const bob = await Endpoint.open({ dir: join(root, 'bob'), cas, ns: flakyNs(ns, failing), log })
  const controller = new AbortController()
  const running: Array<Promise<void>> = []
  return {
    alice,
    bob,
    failing,
    cas,
    controller,
    follow: (run) => { const p = run(); running.push(p); return p },
    close: async () => {
      controller.abort()
      await Promise.allSettled(running)
      await alice.close()
      await bob.close()
    }
  }
}

async function texts (endpoint: Endpoint, alias: string): Promise<string[]> {
  const out: string[] = []
  for await (const m of endpoint.read(alias)) out.push(`${m.seq}:${new TextDecoder().decode(m.payload)}`)
  return out
}

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const fast = { initialMs: 5, maxMs: 40 }

describe('Endpoint.watch survives outages', () => {
  it('waits through UNAVAILABLE (sync and NS watch), reports each retry, and resumes with every message once', async () => {
    const { alice, bob, failing, controller, follow, close } = await pair()
    try {
      await alice.append(Array.from({ length: 10 }, (_, i) => `m${i}`))
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')
      const retries: RetryEvent[] = []
      let delivered = 0
      let length = 0
      const following = follow(async () => {
        for await (const r of bob.watch('alice', { signal: controller.signal, backoff: fast, onRetry: e => retries.push(e) })) {
          delivered += r.delivered
          length = r.length
        }
      })
      await until('the first sync', () => length === 10)
      // The backend goes away: the NS watch and every resync fail until it is back.
      failing.code = 'UNAVAILABLE'
      await until('three retries', () => retries.length >= 3)
      await alice.append(Array.from({ length: 10 }, (_, i) => `m${10 + i}`))
      await alice.publish()
      await until('more retries', () => retries.length >= 6)
      failing.code = undefined
      await until('the resumed sync', () => length === 20)
      // A second outage, this time as a timeout.
      failing.code = 'TIMEOUT'
      await until('a retry', () => retries.some(e => isRemoteLogError(e.error, 'TIMEOUT')))
      failing.code = undefined
      await alice.append(Array.from({ length: 10 }, (_, i) => `m${20 + i}`))
      await alice.publish()
      await until('the last sync', () => length === 30)
      controller.abort()
      await following
      expect(delivered).toBe(30)
      expect(await texts(bob, 'alice')).toEqual(Array.from({ length: 30 }, (_, i) => `${i}:m${i}`))
      expect(retries[0]).toMatchObject({ alias: 'alice', attempt: 1 })
      expect(retries.slice(0, 6).map(e => e.attempt)).toEqual([1, 2, 3, 4, 5, 6])
      expect(retries.every(e => e.delayMs > 0 && e.delayMs <= fast.maxMs)).toBe(true)
      expect(isRemoteLogError(retries[0].error, 'UNAVAILABLE')).toBe(true)
    } finally {
      await close()
    }
  })

  it('a CAS that times out mid-sync: the follower resumes from its cursor, no gap, no duplicate', async () => {
    const { alice, bob, cas, controller, follow, close } = await pair({ casFailAt: [20, 150, 151, 400, 700, 1000] })
    try {
      await bob.follow(await alice.address(), 'alice')
      let retries = 0
      let length = 0
      const following = follow(async () => {
        for await (const r of bob.watch('alice', { signal: controller.signal, backoff: fast, onRetry: () => { retries++ } })) length = r.length
      })
      for (let b = 0; b < 6; b++) {
        await alice.append(Array.from({ length: 200 }, (_, i) => `m${b * 200 + i}`))
        await alice.publish()
      }
      await until('all 1200 messages', () => length === 1200, 30_000)
      controller.abort()
      await following
      // Gets run concurrently: two failures in one sync cost one retry.
      expect(cas.failures ?? 0).toBeGreaterThanOrEqual(4)
      expect(retries).toBeGreaterThanOrEqual(3)
      expect(retries).toBeLessThanOrEqual(cas.failures ?? 0)
      expect(await texts(bob, 'alice')).toEqual(Array.from({ length: 1200 }, (_, i) => `${i}:m${i}`))
    } finally {
      await close()
    }
  })

  it.each(['PERMISSION', 'INTEGRITY', 'MALFORMED', 'INVALID_CONFIG'] as const)('a permanent error (%s) ends the watch, with no retry', async (code) => {
    const { alice, bob, failing, controller, follow, close } = await pair()
    try {
      await alice.append(['m0'])
      await alice.publish()
      await bob.follow(await alice.address(), 'alice')
      const retries: RetryEvent[] = []
      const reports: number[] = []
      const following = follow(async () => {
        for await (const r of bob.watch('alice', { signal: controller.signal, backoff: fast, onRetry: e => retries.push(e) })) {
          reports.push(r.length)
          failing.code = code
        }
      })
      const timer = setTimeout(() => controller.abort(), 5000)
      const error = await following.then(() => undefined, (e: unknown) => e)
      clearTimeout(timer)
      expect(isRemoteLogError(error, code)).toBe(true)
      expect(reports).toEqual([1])
      expect(retries).toEqual([])
    } finally {
      await close()
    }
  })

  it('an abort while waiting to retry ends the watch quietly', async () => {
    const { alice, bob, failing, controller, follow, close } = await pair()
    try {
      await bob.follow(await alice.address(), 'alice')
      failing.code = 'UNAVAILABLE'
      const retries: RetryEvent[] = []
      const following = follow(async () => {
        for await (const _ of bob.watch('alice', { signal: controller.signal, backoff: { initialMs: 60_000, maxMs: 60_000 }, onRetry: e => retries.push(e) })) { /* nothing */ }
      })
      await until('a retry', () => retries.length === 1)
      expect(retries[0].delayMs).toBeGreaterThan(40_000)
      const started = Date.now()
      controller.abort()
      await following
      expect(Date.now() - started).toBeLessThan(1000)
    } finally {
      await close()
    }
  })
})

describe('syncAll', () => {
  it('syncs every log it can and reports each failure by alias', async () => {
    const { alice, bob, failing, close } = await pair()
    try {
      await alice.append(['d0', 'd1'])
      await alice.publish()
      await alice.append(['w0'], { log: 'work' })
      await alice.publish({ log: 'work' })
      await bob.follow(await alice.address(), 'a-default')
      await bob.follow(await alice.address('work'), 'b-work')
      failing.code = 'UNAVAILABLE'
      failing.only = (await alice.address()).split(':')[1]
      const results = await bob.syncAll()
      expect(results.map(r => [r.alias, r.delivered, r.error?.code])).toEqual([['a-default', 0, 'UNAVAILABLE'], ['b-work', 1, undefined]])
      expect(results[0].error?.message).toMatch(/^\[flaky\] UNAVAILABLE: flaky/)
      failing.code = undefined
      expect((await bob.syncAll()).map(r => [r.alias, r.delivered, r.error])).toEqual([['a-default', 2, undefined], ['b-work', 0, undefined]])
    } finally {
      await close()
    }
  })
})

describe('Backoff', () => {
  it('doubles from 200 ms to a 10 s cap, with up to 20 % jitter, and starts again after a healthy while', () => {
    let now = 0
    const max = new Backoff({ random: () => 0, now: () => now })
    expect(Array.from({ length: 9 }, () => max.next())).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000])
    const min = new Backoff({ random: () => 0.999999 })
    expect(min.next()).toBe(160)
    max.succeeded()
    now += 100
    expect(max.next()).toBe(10_000)
    max.succeeded()
    now += 10_000
    expect(max.next()).toBe(200)
  })
})
