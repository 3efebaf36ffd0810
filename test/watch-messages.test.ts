import { describe, expect, it, onTestFinished } from 'vitest'
import { join } from 'node:path'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import type { ContentStore } from '../core/content-store.js'
import { Endpoint } from '../core/endpoint.js'
import { fail } from '../core/errors.js'
import type { RetryEvent, WatchMessagesOptions } from '../core/live-follow.js'
import type { NameSystem } from '../core/name-system.js'
import type { Message } from '../core/reader.js'
import { tempDir } from './support/temp-dir.js'

/** Faults a test turns on: resolves that fail with UNAVAILABLE, CAS gets that time out, a held NS watch. */
interface Faults {
  /** The next this-many resolves fail with UNAVAILABLE. */
  resolves: number
  /** The CAS get with this number (counted from 1 since it was set) fails with TIMEOUT. */
  casGetAt?: number
  casGets: number
  /** While set, the NS watch holds every new head until it settles. */
  hold?: Promise<void>
  /** Heads the NS watch has passed on. */
  heads: number
}

function faultyNs (inner: NameSystem, faults: Faults): NameSystem {
  return {
    backend: 'faulty',
    scheme: inner.scheme,
    capabilities: inner.capabilities,
    nameOf: async (owner, o) => await inner.nameOf(owner, o),
    publish: async (name, record, owner, o) => await inner.publish(name, record, owner, o),
    resolve: async (name, o) => {
      if (faults.resolves > 0) {
        faults.resolves--
        throw fail('UNAVAILABLE', `faulty resolve of ${name}`, { backend: 'faulty' })
      }
      return await inner.resolve(name, o)
    },
    async * watch (name, o) {
      for await (const head of inner.watch!(name, o)) {
        await faults.hold
        faults.heads++
        yield head
      }
    },
    close: async () => {}
  }
}

function faultyCas (inner: ContentStore, faults: Faults): ContentStore {
  return {
    ...inner,
    async get (id: Parameters<ContentStore['get']>[0], o?: Parameters<ContentStore['get']>[1]) {
      if (faults.casGetAt !== undefined && ++faults.casGets === faults.casGetAt) throw fail('TIMEOUT', 'faulty get', { backend: 'faulty' })
      return await inner.get(id, o)
    },
    close: async () => {}
  }
}

interface Setup {
  alice: Endpoint
  bob: Endpoint
  /** A second endpoint on bob's state dir: another process syncing the same follow. */
  bobAgain: Endpoint
  faults: Faults
  controller: AbortController
  /** Runs watchMessages in the background, collecting `seq:text` until `stop` returns true. */
  collect: (options?: Partial<WatchMessagesOptions>, stop?: (got: string[]) => boolean) => { got: string[], done: Promise<void> }
}

const fast = { initialMs: 5, maxMs: 20 }
const decoder = new TextDecoder()
const text = (m: Message): string => `${m.seq}:${decoder.decode(m.payload)}`
const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${from + i}:m${from + i}`)

async function setup (options: { pageEntries?: number } = {}): Promise<Setup> {
  const root = await tempDir()
  const inner = memoryNs({ pollMs: 5 })
  const store = memoryCas()
  const faults: Faults = { resolves: 0, casGets: 0, heads: 0 }
  const log = { mode: 'pointer' as const, pageEntries: options.pageEntries ?? 8 }
  const ns = faultyNs(inner, faults)
  const cas = faultyCas(store, faults)
  const alice = await Endpoint.open({ dir: join(root, 'alice'), cas: store, ns: inner, log, durability: 'process' })
  const bob = await Endpoint.open({ dir: join(root, 'bob'), cas, ns, log, durability: 'process' })
  const bobAgain = await Endpoint.open({ dir: join(root, 'bob'), cas: store, ns: inner, log, durability: 'process' })
  const controller = new AbortController()
  const running: Array<Promise<void>> = []
  onTestFinished(async () => {
    controller.abort()
    await Promise.allSettled(running)
    await Promise.all([alice.close(), bob.close(), bobAgain.close()])
    await inner.close()
  })
  await bob.follow(await alice.address(), 'alice')
  return {
    alice,
    bob,
    bobAgain,
    faults,
    controller,
    collect: (options = {}, stop = () => false) => {
      const got: string[] = []
      const done = (async () => {
        for await (const m of bob.watchMessages('alice', { signal: controller.signal, backoff: fast, ...options })) {
          got.push(text(m))
          if (stop(got)) return
        }
      })()
      running.push(done)
      return { got, done }
    }
  }
}

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 2_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** Alice appends m<from> … m<to - 1> and publishes them at once. */
async function publish (s: Setup, from: number, to: number): Promise<void> {
  await s.alice.append(range(from, to).map(t => t.slice(t.indexOf(':') + 1)))
  await s.alice.publish()
}

describe('Endpoint.watchMessages', () => {
  it('yields each message published after it starts, in order, once; by default none stored before', async () => {
    const s = await setup()
    await publish(s, 0, 5)
    await s.bob.sync('alice')
    const { got } = s.collect()
    for (let i = 5; i < 25; i += 5) {
      await publish(s, i, i + 5)
      await until(`messages up to ${i + 4}`, () => got.length === i)
    }
    await new Promise(resolve => setTimeout(resolve, 30))
    expect(got).toEqual(range(5, 25))
  })

  it('from 0 yields the messages stored before it started first, even while the name system is down', async () => {
    const s = await setup()
    await publish(s, 0, 10)
    await s.bob.sync('alice')
    s.faults.resolves = Number.MAX_SAFE_INTEGER
    const retries: RetryEvent[] = []
    const { got } = s.collect({ from: 0, onRetry: e => retries.push(e) })
    await until('the stored messages', () => got.length === 10)
    expect(got).toEqual(range(0, 10))
    await until('a retry', () => retries.length > 0)
    s.faults.resolves = 0
    await publish(s, 10, 15)
    await until('the new messages', () => got.length === 15)
    expect(got).toEqual(range(0, 15))
  })

  it('a consumer that stops after k resumes with from = k: no gap, no duplicate', async () => {
    const s = await setup()
    await publish(s, 0, 12)
    const first = s.collect({ from: 0 }, got => got.length === 7)
    await first.done
    expect(first.got).toEqual(range(0, 7))
    // Published while no one watches: stored by the next sync, yielded after 0 … 11 from k on.
    await publish(s, 12, 20)
    const second = s.collect({ from: 7 })
    await until('the rest', () => second.got.length === 13)
    await publish(s, 20, 23)
    await until('the new ones', () => second.got.length === 16)
    expect(second.got).toEqual(range(7, 23))
  })

  it('a from beyond the log waits until the log gets there', async () => {
    const s = await setup()
    await publish(s, 0, 3)
    const { got } = s.collect({ from: 5 })
    await publish(s, 3, 8)
    await until('messages from 5', () => got.length === 3)
    expect(got).toEqual(range(5, 8))
  })

  it('an abort ends it without an error, waiting or mid-batch', async () => {
    const s = await setup()
    await publish(s, 0, 4)
    const { got, done } = s.collect({ from: 0 })
    await until('the messages', () => got.length === 4)
    s.controller.abort()
    await expect(done).resolves.toBeUndefined()

    const controller = new AbortController()
    const mid: string[] = []
    for await (const m of s.bob.watchMessages('alice', { signal: controller.signal, from: 0 })) {
      mid.push(text(m))
      if (mid.length === 2) controller.abort()
    }
    expect(mid).toEqual(range(0, 2))
  })

  it('a transient NS error once: retried, nothing skipped or repeated', async () => {
    const s = await setup()
    await publish(s, 0, 6)
    const retries: RetryEvent[] = []
    const { got } = s.collect({ from: 0, onRetry: e => retries.push(e) })
    await until('the first messages', () => got.length === 6)
    s.faults.resolves = 1
    await publish(s, 6, 9)
    await publish(s, 9, 12)
    await until('every message', () => got.length === 12)
    await new Promise(resolve => setTimeout(resolve, 30))
    expect(retries.map(e => (e.error as { code?: string }).code)).toEqual(['UNAVAILABLE'])
    expect(got).toEqual(range(0, 12))
  })

  it('a sync that fails after storing part of a batch: the stored part and the rest, each once', async () => {
    const s = await setup({ pageEntries: 64 })
    await publish(s, 0, 600)
    // 10 page gets, then payloads in order: the first 512 are stored before get 580 fails.
    s.faults.casGetAt = 580
    const stored: number[] = []
    const { got } = s.collect({ from: 0, onRetry: () => { void s.bob.following().then(f => stored.push(f[0].cursor.length)) } })
    await until('every message', () => got.length === 600)
    await new Promise(resolve => setTimeout(resolve, 30))
    expect(stored).toEqual([512])
    expect(got).toEqual(range(0, 600))
  })

  it('yields what another process synced into the same state dir', async () => {
    const s = await setup()
    await publish(s, 0, 5)
    const { got } = s.collect({ from: 0 })
    await until('the first messages', () => got.length === 5)
    // The watch has passed on the head of those: the next head it sees is one the other process synced.
    await until('the watch on that head', () => s.faults.heads === 1)
    let release = (): void => {}
    s.faults.hold = new Promise(resolve => { release = resolve })
    await publish(s, 5, 10)
    expect((await s.bobAgain.sync('alice')).delivered).toBe(5)
    release()
    s.faults.hold = undefined
    await until('what the other synced', () => got.length === 10)
    expect(got).toEqual(range(0, 10))
  })

  it('refuses a from that is not a sequence number, and an alias not followed', async () => {
    const s = await setup()
    const signal = s.controller.signal
    await expect(s.bob.watchMessages('alice', { signal, from: -1 }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(s.bob.watchMessages('alice', { signal, from: 1.5 }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(s.bob.watchMessages('carol', { signal }).next()).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
