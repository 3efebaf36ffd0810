import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import type { ContentStore } from '../../core/content-store.js'
import { cidOf, MAX_OBJECT_BYTES } from '../../core/ids.js'
import { isRemoteLogError, type ErrorCode } from '../../core/errors.js'

export interface CasHarness {
  /** A fresh, empty store for one test. */
  create (): Promise<ContentStore>
  /** Alters the stored bytes of `id` behind the store's back, to show `get` catches it. */
  corrupt? (store: ContentStore, id: CID): Promise<void>
  /** How long a get of a missing object may take before it fails (default 5 s). */
  missingWithinMs?: number
  /**
   * What a get of a missing object fails with: NOT_FOUND (default), the backend's answer that it has
   * no such object; or TIMEOUT for a backend that never gives that answer and only stops looking
   * after its timeout (js-ipfs; an online Kubo searching the network).
   */
  missingGet?: 'NOT_FOUND' | 'TIMEOUT'
  /**
   * A store of this backend pointed at a backend that is down (e.g. a closed port). Its get must fail
   * with UNAVAILABLE, never NOT_FOUND: nobody answered. Its put and has either work (a store keeping its
   * own copy) or fail with UNAVAILABLE too.
   */
  unreachable? (): Promise<ContentStore>
  /** The store honours a call's AbortSignal: with one already aborted, put/get/has fail with ABORTED. */
  abort?: boolean
}

/** A loopback port that nothing listens on (it was free a moment ago), for "backend is down" tests. */
export async function closedPort (): Promise<number> {
  const server: Server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

/**
 * A loopback server that accepts connections and never answers: a backend that hangs. `close()` ends
 * it and every connection it holds.
 */
export async function silentServer (): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => { sockets.add(socket); socket.on('error', () => {}); socket.on('close', () => sockets.delete(socket)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

export async function expectCode (promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error, `expected a ${code} error`).toBeDefined()
  if (!isRemoteLogError(error, code)) throw new Error(`expected ${code}, got ${String(error)}`, { cause: error })
}

/** The behaviour every CAS backend shares. Each backend's test calls this with its harness. */
export function casConformance (name: string, harness: CasHarness): void {
  describe(`CAS conformance: ${name}`, () => {
    let store: ContentStore
    beforeEach(async () => { store = await harness.create() })
    afterEach(async () => { await store.close() })

    it('returns the CIDv1 raw sha2-256 id of the bytes, the same on every backend', async () => {
      const bytes = new TextEncoder().encode('hello remote log')
      const id = await store.put(bytes)
      expect(id.toString()).toBe(cidOf(bytes).toString())
      expect(id.toString()).toMatch(/^bafkrei/)
      expect(id.version).toBe(1)
      expect(id.code).toBe(0x55)
    })

    it('gets back exactly the bytes that were put', async () => {
      const bytes = randomBytes(4096)
      const id = await store.put(bytes)
      expect(Buffer.from(await store.get(id)).equals(bytes)).toBe(true)
    })

    it('stores the empty object and objects of exactly 1 MiB', async () => {
      const empty = new Uint8Array(0)
      expect((await store.get(await store.put(empty))).byteLength).toBe(0)
      const max = randomBytes(MAX_OBJECT_BYTES)
      expect(Buffer.from(await store.get(await store.put(max))).equals(max)).toBe(true)
    })

    it('rejects an object over 1 MiB with TOO_LARGE and stores nothing', async () => {
      const big = randomBytes(MAX_OBJECT_BYTES + 1)
      await expectCode(store.put(big), 'TOO_LARGE')
      expect(await store.has(cidOf(big))).toBe(false)
    })

    it('is idempotent: the same bytes twice give the same id', async () => {
      const bytes = randomBytes(100)
      const a = await store.put(bytes)
      const b = await store.put(bytes)
      expect(a.equals(b)).toBe(true)
    })

    it('answers has() for present and missing objects', async () => {
      const id = await store.put(randomBytes(32))
      expect(await store.has(id)).toBe(true)
      expect(await store.has(cidOf(randomBytes(32)))).toBe(false)
    })

    it(`fails a get of a missing object with ${harness.missingGet ?? 'NOT_FOUND'}, within a bound`, async () => {
      const started = Date.now()
      await expectCode(store.get(cidOf(randomBytes(32))), harness.missingGet ?? 'NOT_FOUND')
      expect(Date.now() - started).toBeLessThan(harness.missingWithinMs ?? 5000)
    })

    it.skipIf(harness.unreachable === undefined)('answers UNAVAILABLE, distinct from NOT_FOUND, when its backend is down', async () => {
      const down = await harness.unreachable!()
      try {
        const started = Date.now()
        await expectCode(down.get(cidOf(randomBytes(32))), 'UNAVAILABLE')
        expect(Date.now() - started).toBeLessThan(5000)
        const bytes = randomBytes(32)
        const put = await down.put(bytes).then(() => undefined, (e: unknown) => e)
        if (put !== undefined) await expectCode(Promise.reject(put), 'UNAVAILABLE')
        const has = await down.has(cidOf(bytes)).then(() => undefined, (e: unknown) => e)
        if (has !== undefined) await expectCode(Promise.reject(has), 'UNAVAILABLE')
      } finally {
        await down.close()
      }
    })

    it.skipIf(harness.abort !== true)('fails with ABORTED, doing nothing, when the signal is already aborted', async () => {
      const signal = AbortSignal.abort()
      const bytes = randomBytes(48)
      await expectCode(store.put(bytes, { signal }), 'ABORTED')
      expect(await store.has(cidOf(bytes))).toBe(false)
      const id = await store.put(randomBytes(48))
      await expectCode(store.get(id, { signal }), 'ABORTED')
      await expectCode(store.has(id, { signal }), 'ABORTED')
    })

    it('handles many concurrent puts and gets', async () => {
      const items = Array.from({ length: 200 }, () => randomBytes(256))
      const ids = await Promise.all(items.map(async b => await store.put(b)))
      const back = await Promise.all(ids.map(async id => await store.get(id)))
      back.forEach((b, i) => expect(Buffer.from(b).equals(items[i])).toBe(true))
    })

    it.skipIf(harness.corrupt === undefined)('returns INTEGRITY, never data, when stored bytes were altered', async () => {
      const id = await store.put(randomBytes(256))
      await harness.corrupt!(store, id)
      await expectCode(store.get(id), 'INTEGRITY')
    })

    it('deletes (or unpins) when the backend can', async (ctx) => {
      if (!store.capabilities.delete || store.delete === undefined) return ctx.skip()
      const keep = await store.put(randomBytes(64))
      const drop = await store.put(randomBytes(64))
      await store.delete(drop)
      expect(await store.has(keep)).toBe(true)
      await expectCode(store.get(drop), harness.missingGet ?? 'NOT_FOUND')
    })

    // A store that can delete records which logs keep objects in it, so a scrub spares what they use.
    it('records the head of each log sharing it (a store that can delete)', async (ctx) => {
      if (!store.capabilities.delete) return ctx.skip()
      expect(store.heads).toBeDefined()
      const [a1, a2, b] = [randomBytes(16), randomBytes(16), randomBytes(16)].map(bytes => cidOf(bytes))
      const [logA, logB] = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')]
      await store.heads!.record(logA, a1)
      await store.heads!.record(logB, b)
      await store.heads!.record(logA, a2) // the newest head replaces the one before
      const listed = (await store.heads!.list()).filter(h => h.logId === logA || h.logId === logB)
      expect(listed.map(h => `${h.logId} ${h.head.toString()}`).sort()).toEqual([`${logA} ${a2.toString()}`, `${logB} ${b.toString()}`].sort())
      await expectCode(store.heads!.record('../escape', a1), 'INVALID_INPUT')
    })
  })
}
