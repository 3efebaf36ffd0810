import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { fromBinary, toBinary, create } from '@bufbuild/protobuf'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { CID } from 'multiformats/cid'
import { memoryCas } from '../adapters/cas/memory.js'
import { pushWatch } from '../adapters/ns/head-watch.js'
import { localNs } from '../adapters/ns/local.js'
import { memoryNs } from '../adapters/ns/memory.js'
import type { RecordNameSystem } from '../adapters/ns/record-ns.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { Endpoint } from '../core/endpoint.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem, OwnerKey, ResolvedHead, WatchHeadsOptions } from '../core/name-system.js'
import { ContentSchema, QuerySchema } from '../proto/gen/vac/ns/ns_pb.js'
import { startService, type RunningService, type ServiceOptions } from '../service/server.js'
import { tempDir } from './support/temp-dir.js'

// Every name system that can push does: a watcher hears of a new head without polling (these
// tests set `pollMs` to ten minutes), never misses the last head, and cleans up when aborted.

const NO_POLL = 600_000
const publisherScript = fileURLToPath(new URL('./support/local-publisher.ts', import.meta.url))

const owner = (): OwnerKey => ({ label: 'default', secret: randomBytes(32) })

/** Collects what a watch yields until aborted; `until(pred)` waits for a head matching `pred`. */
function collect (ns: NameSystem, name: string, options: Omit<WatchHeadsOptions, 'signal'> = {}): {
  seen: ResolvedHead[]
  until: (pred: (h: ResolvedHead) => boolean) => Promise<ResolvedHead>
  stop: () => Promise<void>
} {
  const controller = new AbortController()
  const seen: ResolvedHead[] = []
  let changed: (() => void) | undefined
  let failure: unknown
  const running = (async () => {
    for await (const head of ns.watch!(name, { ...options, signal: controller.signal })) {
      seen.push(head)
      changed?.()
    }
  })().catch((e: unknown) => { failure = e; changed?.() })
  const stop = async (): Promise<void> => { controller.abort(); await running }
  onTestFinished(stop)
  return {
    seen,
    async until (pred) {
      for (;;) {
        if (failure !== undefined) throw failure
        const hit = seen.find(pred)
        if (hit !== undefined) return hit
        await new Promise<void>(resolve => { changed = resolve })
      }
    },
    stop
  }
}

/** Publishes successive heads of one name, as its owner's endpoint does. */
function publisher (ns: NameSystem, who: OwnerKey): (count?: number) => Promise<{ revision: number, head: CID }> {
  let revision = 0
  let previous: CID | undefined
  return async (count = 1) => {
    const name = await ns.nameOf(who)
    for (let i = 0; i < count; i++) {
      const head = cidOf(randomBytes(16))
      revision++
      await ns.publish(name, { head, length: revision, revision }, who, { previous })
      previous = head
    }
    return { revision, head: previous! }
  }
}

/** Watches this process holds on inotify (Linux): one per watched folder. */
function inotifyWatches (): number | undefined {
  if (process.platform !== 'linux') return undefined
  let count = 0
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    try {
      count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter(l => l.startsWith('inotify wd:')).length
    } catch {}
  }
  return count
}

describe('local NS: pushed by file-system notifications', () => {
  it('delivers every head a writer in another process publishes, the last of a burst included, with polling off', async () => {
    const names = join(await tempDir(), 'names-not-yet-made')
    const secret = randomBytes(32)
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', publisherScript, names, secret.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] })
    onTestFinished(async () => { if (child.exitCode === null) { child.kill(); await once(child, 'exit') } })
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
    const next = async (): Promise<{ name: string, revision: number, head: string }> => JSON.parse((await lines.next()).value as string)
    const { name } = await next()

    const ns = localNs({ path: names })
    // Watching starts before anything is published, before the folder even exists.
    const watch = collect(ns, name, { pollMs: NO_POLL })
    await sleep(100)
    child.stdin!.write('1\n')
    const first = await next()
    expect((await watch.until(h => h.revision === first.revision)).head.toString()).toBe(first.head)
    child.stdin!.write('1\n')
    const second = await next()
    await watch.until(h => h.revision === second.revision)
    // A burst: notifications coalesce, but the watch ends on the burst's last head.
    child.stdin!.write('25\n')
    const burst = await next()
    expect((await watch.until(h => h.revision === burst.revision)).head.toString()).toBe(burst.head)
    const revisions = watch.seen.map(h => h.revision!)
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b))
    expect(new Set(revisions).size).toBe(revisions.length)
    await watch.stop()
    await ns.close()
  })

  it('closes its folder watcher when the last watch is aborted', async () => {
    const before = inotifyWatches()
    const names = await tempDir()
    const writer = localNs({ path: names })
    const who = owner()
    const publish = publisher(writer, who)
    await publish()
    const name = await writer.nameOf(who)
    const reader = localNs({ path: names })
    const watches = [collect(reader, name, { pollMs: NO_POLL }), collect(reader, name, { pollMs: NO_POLL })]
    for (const w of watches) await w.until(h => h.revision === 1)
    if (before !== undefined) expect(inotifyWatches()).toBe(before + 1) // one watcher for the folder, shared
    const { revision } = await publish()
    for (const w of watches) await w.until(h => h.revision === revision)
    await watches[0].stop()
    if (before !== undefined) expect(inotifyWatches()).toBe(before + 1)
    await watches[1].stop()
    if (before !== undefined) expect(inotifyWatches()).toBe(before)
  })

  it('polls every pollMs with notifications off (notify: false)', async () => {
    const names = await tempDir()
    const writer = localNs({ path: names })
    const who = owner()
    const publish = publisher(writer, who)
    await publish()
    const before = inotifyWatches()
    const watch = collect(localNs({ path: names, notify: false }), await writer.nameOf(who), { pollMs: 20 })
    await watch.until(h => h.revision === 1)
    const { revision } = await publish(3)
    await watch.until(h => h.revision === revision)
    expect(inotifyWatches()).toBe(before)
  })
})

describe('memory NS: pushed in-process', () => {
  it('delivers each publish at once, with polling off', async () => {
    const ns = memoryNs()
    const who = owner()
    const publish = publisher(ns, who)
    const watch = collect(ns, await ns.nameOf(who), { pollMs: NO_POLL })
    await sleep(20)
    for (let i = 0; i < 5; i++) {
      const { revision } = await publish()
      await watch.until(h => h.revision === revision)
    }
  })
})

describe('pushWatch', () => {
  it('polls while notifications cannot be armed, and re-arms after they break', async () => {
    let state: ResolvedHead | undefined
    let arms = 0
    let broken: (() => void) | undefined
    let wake: (() => void) | undefined
    const controller = new AbortController()
    const seen: number[] = []
    const watching = (async () => {
      for await (const head of pushWatch({
        signal: controller.signal,
        pollMs: 20,
        arm: async (w, b) => {
          if (++arms === 1) throw new Error('not now')
          wake = w
          broken = b
          return () => { wake = undefined }
        },
        check: async () => state
      })) seen.push(head.revision!)
    })()
    await sleep(60)
    expect(arms).toBe(2) // the first arm failed: polled, and armed again before the next check
    state = { head: cidOf(randomBytes(4)), revision: 1 }
    wake!()
    while (!seen.includes(1)) await sleep(5)
    broken!()
    expect(wake).toBeUndefined() // disarmed
    state = { head: cidOf(randomBytes(4)), revision: 2 }
    while (!seen.includes(2)) await sleep(5)
    expect(arms).toBeGreaterThanOrEqual(3)
    controller.abort()
    await watching
    expect(wake).toBeUndefined()
  })
})

describe('Endpoint.watch', () => {
  it('hands its pollMs to the name system\'s watch', async () => {
    const inner = memoryNs()
    const given: Array<number | undefined> = []
    const ns: NameSystem = {
      ...inner,
      watch (name, options) { given.push(options.pollMs); return inner.watch!(name, options) }
    }
    const cas = memoryCas()
    const alice = await Endpoint.open({ dir: await tempDir(), cas, ns })
    const bob = await Endpoint.open({ dir: await tempDir(), cas, ns })
    onTestFinished(async () => { await alice.close(); await bob.close() })
    await alice.append(['one'])
    await alice.publish()
    await bob.follow(await alice.address(), 'alice')
    const controller = new AbortController()
    for await (const r of bob.watch('alice', { signal: controller.signal, pollMs: 1234 })) {
      if (r.length === 1) {
        await alice.append(['two'])
        await alice.publish()
      }
      if (r.length === 2) controller.abort()
    }
    expect(given).toEqual([1234])
  })
})

// ── The service: a Twirp long-poll ──────────────────────────────────────────────────────────────

async function service (options: Partial<ServiceOptions> = {}): Promise<RunningService & { ns: RecordNameSystem }> {
  const ns = memoryNs()
  const running = await startService({ cas: memoryCas(), ns, ...options })
  onTestFinished(async () => { await running.close() })
  return Object.assign(running, { ns })
}

async function until (condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition() && Date.now() < deadline) await sleep(10)
}

/** A raw Fetch, JSON on the wire. */
async function rawFetch (url: string, body: object, signal?: AbortSignal): Promise<{ status: number, json: Record<string, unknown> }> {
  const response = await fetch(`${url}/twirp/vac.ns.NS/Fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal })
  return { status: response.status, json: await response.json() as Record<string, unknown> }
}

describe('twirp NS: pushed by a long-poll', () => {
  it('delivers what another client publishes with polling off, and ends its held request when aborted', async () => {
    const running = await service()
    const writer = twirpNs({ url: running.url })
    const who = owner()
    const publish = publisher(writer, who)
    const name = await writer.nameOf(who)
    const watch = collect(twirpNs({ url: running.url }), name, { pollMs: NO_POLL })
    await until(() => running.waiting === 1) // held: nothing is published yet
    expect(running.waiting).toBe(1)
    for (let i = 0; i < 3; i++) {
      const { revision } = await publish()
      await watch.until(h => h.revision === revision)
    }
    const { revision } = await publish(10)
    await watch.until(h => h.revision === revision)
    await until(() => running.waiting === 1)
    await watch.stop()
    await until(() => running.waiting === 0)
    expect(running.waiting).toBe(0)
  })

  it('answers a Fetch without wait_ms at once and exactly as before (old clients)', async () => {
    const running = await service()
    const writer = twirpNs({ url: running.url })
    const who = owner()
    await publisher(writer, who)()
    const name = await writer.nameOf(who)
    const answer = await rawFetch(running.url, { name })
    expect(answer.status).toBe(200)
    expect(Object.keys(answer.json)).toEqual(['data'])
    expect(await rawFetch(running.url, { name: await writer.nameOf(owner()) })).toMatchObject({ status: 404, json: { code: 'not_found' } })
    // A waiting Fetch names what it holds: the answer carries the granted wait, and empty data for a name not yet published.
    const held = await rawFetch(running.url, { name: await writer.nameOf(owner()), wait_ms: 50 })
    expect(held).toEqual({ status: 200, json: { data: '', wait_ms: 50 } })
  })

  it('holds a Fetch at most maxWaitMs, even past the request timeout, then answers with what is stored', async () => {
    const running = await service({ nsLimits: { maxWaitMs: 600 }, requestTimeoutMs: 200 })
    const writer = twirpNs({ url: running.url })
    const who = owner()
    await publisher(writer, who)()
    const name = await writer.nameOf(who)
    const started = Date.now()
    const answer = await rawFetch(running.url, { name, after_sequence: '1', wait_ms: 60_000 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(550)
    expect(answer.status).toBe(200)
    expect(answer.json.wait_ms).toBe(600)
    expect(typeof answer.json.data === 'string' && answer.json.data.length > 0).toBe(true)
    expect(running.waiting).toBe(0)
  })

  it('bounds the long-polls one client holds, and all of them: past either, a Fetch is answered at once (wait_ms 0)', async () => {
    const running = await service({ nsLimits: { waitsPerClient: 2, maxWaits: 3 } })
    const ns = twirpNs({ url: running.url })
    const name = await ns.nameOf(owner())
    const controller = new AbortController()
    onTestFinished(() => controller.abort())
    const held = [1, 2].map(async () => await rawFetch(running.url, { name, wait_ms: 30_000 }, controller.signal).catch(() => undefined))
    await until(() => running.waiting === 2)
    expect(running.waiting).toBe(2)
    expect(await rawFetch(running.url, { name, wait_ms: 30_000 })).toEqual({ status: 200, json: { data: '', wait_ms: 0 } })
    // The watch of a client over its bound falls back to polling (pollMs) and still delivers.
    const who = owner()
    const watched = await ns.nameOf(who)
    const watch = collect(twirpNs({ url: running.url }), watched, { pollMs: 20 })
    await sleep(100)
    expect(running.waiting).toBe(2)
    const { revision } = await publisher(ns, who)()
    await watch.until(h => h.revision === revision)
    controller.abort()
    await Promise.all(held)
    // With slots free again, the watch's next Fetch is held.
    await until(() => running.waiting === 1)
    expect(running.waiting).toBe(1)
    await watch.stop()
    await until(() => running.waiting === 0)
    expect(running.waiting).toBe(0)
  })

  it('answers held long-polls at once on shutdown instead of holding it for the grace period', async () => {
    const running = await service({ shutdownGraceMs: 60_000 })
    const ns = twirpNs({ url: running.url })
    const who = owner()
    await publisher(ns, who)()
    const name = await ns.nameOf(who)
    const held = rawFetch(running.url, { name, after_sequence: '1', wait_ms: 30_000 })
    await until(() => running.waiting === 1)
    const started = Date.now()
    await running.close()
    expect(Date.now() - started).toBeLessThan(30_000)
    const answer = await held
    expect(answer.status).toBe(200)
    expect(answer.json.wait_ms).toBe(25_000) // the default cap
  })

  it('polls (pollMs), without spinning, a service that does not know long-polls', async () => {
    // An RFC-only server: Fetch answers at once and never sets Content.wait_ms.
    const records = memoryNs()
    let fetches = 0
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        fetches++
        const query = fromBinary(QuerySchema, Buffer.concat(chunks))
        records.readRecord(query.name).then(
          data => res.writeHead(200, { 'content-type': 'application/protobuf' }).end(Buffer.from(toBinary(ContentSchema, create(ContentSchema, { data })))),
          () => res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"not_found","msg":"no record"}'))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    onTestFinished(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
    const { port } = server.address() as { port: number }
    const who = owner()
    const publish = publisher(records, who)
    await publish()
    const watch = collect(twirpNs({ url: `http://127.0.0.1:${port}` }), await records.nameOf(who), { pollMs: 50 })
    await watch.until(h => h.revision === 1)
    const counted = fetches
    await sleep(500)
    expect(fetches - counted).toBeLessThanOrEqual(12) // ~10 at one per 50 ms, not a busy loop
    const { revision } = await publish()
    await watch.until(h => h.revision === revision)
  })
})
