import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import { connect, createServer as createTcpServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { ContentStore } from '../core/content-store.js'
import { fail } from '../core/errors.js'
import { cidOf, MAX_OBJECT_BYTES } from '../core/ids.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { startService, type RunningService, type ServiceOptions } from '../service/server.js'
import { expectCode } from './conformance/cas.js'

async function service (options: Partial<ServiceOptions> = {}): Promise<RunningService> {
  const running = await startService({ cas: memoryCas(), ns: memoryNs(), ...options })
  onTestFinished(async () => { await running.close() })
  return running
}

/** Polls `condition` until it holds or `ms` pass; the assertion after it says what was expected. */
async function until (condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition() && Date.now() < deadline) await sleep(20)
}

function socketTo (url: string): Socket {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.on('error', () => {})
  return socket
}

/** Everything the server sends on `socket` until it closes the connection. */
async function readUntilClosed (socket: Socket): Promise<string> {
  let text = ''
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1') })
  await once(socket, 'close')
  return text
}

function protobufContent (data: Uint8Array): Buffer {
  const length: number[] = []
  for (let n = data.byteLength; ; n = Math.floor(n / 128)) {
    if (n < 0x80) { length.push(n); break }
    length.push((n & 0x7f) | 0x80)
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), data])
}

async function postAdd (url: string, body: Uint8Array): Promise<{ status: number, error: { code: string, meta?: Record<string, string> }, connection: string | null }> {
  const response = await fetch(`${url}/twirp/vac.cas.CAS/Add`, { method: 'POST', headers: { 'content-type': 'application/protobuf' }, body })
  return { status: response.status, error: await response.json() as never, connection: response.headers.get('connection') }
}

describe('request size limits', () => {
  it('refuses an object over 1 MiB with invalid_argument (TOO_LARGE) and stores nothing', async () => {
    const cas = memoryCas()
    const running = await service({ cas })
    const big = randomBytes(MAX_OBJECT_BYTES + 1)
    const answer = await postAdd(running.url, protobufContent(big))
    expect(answer.status).toBe(400)
    expect(answer.error).toMatchObject({ code: 'invalid_argument', meta: { remotelog_code: 'TOO_LARGE' } })
    expect(await cas.has(cidOf(big))).toBe(false)
  })

  it('refuses a body over the limit from its Content-Length, without reading it, and closes the connection', async () => {
    const running = await service({ maxBodyBytes: 64 * 1024 })
    const answer = await postAdd(running.url, protobufContent(randomBytes(100 * 1024)))
    expect(answer.status).toBe(400)
    expect(answer.error).toMatchObject({ code: 'invalid_argument', meta: { remotelog_code: 'TOO_LARGE' } })
    expect(answer.connection).toBe('close')
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200)
  })

  it('refuses a chunked body once it passes the limit', async () => {
    const running = await service({ maxBodyBytes: 64 * 1024 })
    const socket = socketTo(running.url)
    const closed = readUntilClosed(socket)
    socket.write('POST /twirp/vac.cas.CAS/Add HTTP/1.1\r\nhost: test\r\ncontent-type: application/protobuf\r\ntransfer-encoding: chunked\r\n\r\n')
    const chunk = randomBytes(16 * 1024)
    for (let i = 0; i < 5; i++) socket.write(`${chunk.byteLength.toString(16)}\r\n${chunk.toString('latin1')}\r\n`, 'latin1')
    const text = await closed
    expect(text).toMatch(/^HTTP\/1\.1 400 /)
    expect(text).toContain('"code":"invalid_argument"')
    await until(() => running.inFlight === 0)
    expect(running.inFlight).toBe(0)
  })
})

describe('slow and aborted clients', () => {
  it('cuts off a client that stops sending its body, and keeps nothing open', async () => {
    const running = await service({ requestTimeoutMs: 400 })
    const socket = socketTo(running.url)
    const closed = readUntilClosed(socket)
    socket.write('POST /twirp/vac.cas.CAS/Add HTTP/1.1\r\nhost: test\r\ncontent-type: application/protobuf\r\ncontent-length: 1000\r\n\r\n')
    socket.write(Buffer.alloc(10))
    await closed
    await until(() => running.inFlight === 0 && running.connections === 0)
    expect({ inFlight: running.inFlight, connections: running.connections }).toEqual({ inFlight: 0, connections: 0 })
  })

  it('cuts off a client that never finishes its headers', async () => {
    const running = await service({ requestTimeoutMs: 400 })
    const socket = socketTo(running.url)
    const closed = readUntilClosed(socket)
    socket.write('POST /twirp/vac.cas.CAS/Add HTTP/1.1\r\nhost: te')
    await closed
    await until(() => running.connections === 0)
    expect(running.connections).toBe(0)
  })

  it('releases requests whose clients went away mid-body, and keeps serving', async () => {
    const running = await service()
    const sockets = Array.from({ length: 20 }, () => socketTo(running.url))
    await Promise.all(sockets.map(async s => { await once(s, 'connect') }))
    for (const s of sockets) {
      s.write('POST /twirp/vac.cas.CAS/Add HTTP/1.1\r\nhost: test\r\ncontent-type: application/protobuf\r\ncontent-length: 5000\r\n\r\n')
      s.write(Buffer.alloc(100))
    }
    await until(() => running.inFlight === 20)
    expect(running.inFlight).toBe(20)
    for (const s of sockets) s.destroy()
    await until(() => running.inFlight === 0 && running.connections === 0)
    expect({ inFlight: running.inFlight, connections: running.connections }).toEqual({ inFlight: 0, connections: 0 })
    const cas = twirpCas({ url: running.url, retries: 0 })
    const id = await cas.put(new TextEncoder().encode('still serving'))
    expect(new TextDecoder().decode(await cas.get(id))).toBe('still serving')
  })

  it('releases a request whose client aborted while the backend was working', async () => {
    let started = 0
    const slow: ContentStore = {
      ...memoryCas(),
      async get (_id, options) {
        started++
        await sleep(10_000, undefined, { signal: options?.signal })
        throw new Error('unreachable')
      }
    }
    const running = await service({ cas: slow })
    const controller = new AbortController()
    const pending = twirpCas({ url: running.url, retries: 0 }).get(cidOf(randomBytes(4)), { signal: controller.signal })
    await until(() => started === 1)
    controller.abort()
    await expectCode(pending, 'ABORTED')
    await until(() => running.inFlight === 0)
    expect(running.inFlight).toBe(0)
  })
})

describe('graceful shutdown', () => {
  it('finishes in-flight writes, then stops accepting', async () => {
    const store = memoryCas()
    let arrived = 0
    const slow: ContentStore = { ...store, async put (bytes, o) { arrived++; await sleep(300); return await store.put(bytes, o) } }
    const running = await startService({ cas: slow, ns: memoryNs() })
    const cas = twirpCas({ url: running.url, retries: 0 })
    const items = Array.from({ length: 5 }, () => randomBytes(64))
    const puts = items.map(async bytes => await cas.put(bytes))
    await until(() => arrived === 5)
    const closing = running.close()
    const ids = await Promise.all(puts)
    await closing
    ids.forEach((id, i) => expect(id.toString()).toBe(cidOf(items[i]).toString()))
    for (const id of ids) expect(await store.has(id)).toBe(true)
    await expectCode(cas.put(randomBytes(8)), 'UNAVAILABLE')
  })

  it('gives up on requests still running after the grace time, and closes anyway', async () => {
    let arrived = 0
    const stuck: ContentStore = {
      ...memoryCas(),
      async put (_bytes, options) {
        arrived++
        await new Promise((_resolve, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error)))
        throw new Error('unreachable')
      }
    }
    const running = await startService({ cas: stuck, ns: memoryNs(), shutdownGraceMs: 200 })
    const put = twirpCas({ url: running.url, retries: 0 }).put(randomBytes(8))
    const failed = expectCode(put, 'UNAVAILABLE')
    await until(() => arrived === 1)
    await running.close()
    await failed
    expect(running.connections).toBe(0)
  })
})

describe('client retries and timeouts', () => {
  it('retries an idempotent call the service could not serve, with backoff', async () => {
    const store = memoryCas()
    let calls = 0
    const flaky: ContentStore = {
      ...store,
      async put (bytes, o) {
        if (++calls <= 2) throw fail('UNAVAILABLE', 'disk busy')
        return await store.put(bytes, o)
      }
    }
    const running = await service({ cas: flaky })
    const bytes = randomBytes(32)
    expect((await twirpCas({ url: running.url, retries: 3, backoffMs: 10 }).put(bytes)).toString()).toBe(cidOf(bytes).toString())
    expect(calls).toBe(3)

    calls = 0
    await expectCode(twirpCas({ url: running.url, retries: 0 }).put(randomBytes(32)), 'UNAVAILABLE')
    expect(calls).toBe(1)
  })

  it('does not retry an answer that will not change (NOT_FOUND)', async () => {
    const store = memoryCas()
    let calls = 0
    const counting: ContentStore = { ...store, async get (id, o) { calls++; return await store.get(id, o) } }
    const running = await service({ cas: counting })
    await expectCode(twirpCas({ url: running.url, retries: 3, backoffMs: 10 }).get(cidOf(randomBytes(4))), 'NOT_FOUND')
    expect(calls).toBe(1)
  })

  it('times out on a server that never answers (TIMEOUT), after its retries', async () => {
    const held: Socket[] = []
    const silent = createTcpServer(socket => { held.push(socket); socket.on('error', () => {}) })
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    onTestFinished(async () => {
      for (const socket of held) socket.destroy()
      await new Promise(resolve => silent.close(resolve))
    })
    const port = (silent.address() as { port: number }).port
    const cas = twirpCas({ url: `http://127.0.0.1:${port}`, timeoutMs: 150, retries: 1, backoffMs: 10 })
    await expectCode(cas.get(cidOf(randomBytes(4))), 'TIMEOUT')
    expect(held).toHaveLength(2)
  })

  it('reports a refused connection as UNAVAILABLE', async () => {
    const running = await startService({ cas: memoryCas(), ns: memoryNs() })
    const url = running.url
    await running.close()
    await expectCode(twirpCas({ url, retries: 1, backoffMs: 10 }).get(cidOf(randomBytes(4))), 'UNAVAILABLE')
  })

  it('maps answers from a proxy that is not Twirp by their HTTP status', async () => {
    const statuses = [502, 404, 403]
    let next = 0
    const proxy = createHttpServer((_req, res) => { res.writeHead(statuses[next++], { 'content-type': 'text/html' }).end('<html>oops</html>') })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    onTestFinished(async () => { await new Promise(resolve => proxy.close(resolve)) })
    const cas = twirpCas({ url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, retries: 0 })
    await expectCode(cas.get(cidOf(randomBytes(4))), 'UNAVAILABLE')
    await expectCode(cas.get(cidOf(randomBytes(4))), 'INVALID_CONFIG')
    await expectCode(cas.get(cidOf(randomBytes(4))), 'PERMISSION')
  })

  it('refuses an answer larger than its limit (MALFORMED) instead of buffering it', async () => {
    const huge = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/protobuf' })
      const chunk = Buffer.alloc(256 * 1024)
      let sent = 0
      const pump = (): void => { while (sent++ < 64 && res.write(chunk)); if (sent < 64) res.once('drain', pump); else res.end() }
      res.on('error', () => {})
      pump()
    })
    huge.listen(0, '127.0.0.1')
    await once(huge, 'listening')
    onTestFinished(async () => { huge.closeAllConnections(); await new Promise(resolve => huge.close(resolve)) })
    const cas = twirpCas({ url: `http://127.0.0.1:${(huge.address() as { port: number }).port}`, retries: 0 })
    await expectCode(cas.get(cidOf(randomBytes(4))), 'MALFORMED')
  })

  it('refuses a bad service URL with INVALID_CONFIG', () => {
    expect(() => twirpCas({ url: 'not a url' })).toThrow(/INVALID_CONFIG/)
    expect(() => twirpCas({ url: 'ftp://127.0.0.1/' })).toThrow(/INVALID_CONFIG/)
  })
})
