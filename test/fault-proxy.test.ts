import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { startFaultProxy, type FaultProxy } from '../compare/fault-proxy.js'

// The fault proxy itself, in front of a plain HTTP server: each fault does what it says.
describe('fault proxy', () => {
  let server: Server
  let url: string
  const body = 'x'.repeat(64 * 1024)
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume()
      req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) }).end(body) })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })

  async function withProxy (test: (proxy: FaultProxy) => Promise<void>): Promise<void> {
    const proxy = await startFaultProxy({ target: url })
    try { await test(proxy) } finally { await proxy.close() }
  }
  const get = async (proxy: FaultProxy, path = '/', timeoutMs = 5000): Promise<string> =>
    await (await fetch(`${proxy.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) })).text()

  it('passes requests and responses through unchanged', async () => {
    await withProxy(async proxy => {
      expect(await get(proxy)).toBe(body)
      expect(proxy.target).toBe(url.replace('http://', ''))
      expect(proxy.stats.bytesDown).toBeGreaterThan(body.length)
    })
  })

  it('an outage refuses connections at once, then the same port answers again', async () => {
    await withProxy(async proxy => {
      const port = proxy.port
      await proxy.goDown()
      const started = performance.now()
      await expect(get(proxy)).rejects.toThrow(/fetch failed/)
      expect(performance.now() - started).toBeLessThan(1000)
      expect(proxy.down).toBe(true)
      await proxy.comeUp()
      expect(proxy.port).toBe(port)
      expect(await get(proxy)).toBe(body)
    })
  })

  it('outage(ms) lasts that long; a blackhole outage accepts but never answers', async () => {
    await withProxy(async proxy => {
      const started = performance.now()
      await proxy.outage(300)
      expect(performance.now() - started).toBeGreaterThanOrEqual(290)
      expect(await get(proxy)).toBe(body)
      await proxy.goDown('blackhole')
      await expect(get(proxy, '/', 400)).rejects.toThrow(/aborted|timeout/i)
      await proxy.comeUp()
      // Connections held through the blackhole are reset when it ends: a pooled one may fail once.
      expect(await get(proxy).catch(async () => await get(proxy))).toBe(body)
      expect(proxy.stats.dropped).toBeGreaterThan(0)
    })
  })

  it('adds latency each way', async () => {
    await withProxy(async proxy => {
      proxy.latency(150)
      const started = performance.now()
      expect(await get(proxy)).toBe(body)
      expect(performance.now() - started).toBeGreaterThanOrEqual(290)
      proxy.latency(0)
    })
  })

  it('resets the matching response mid-way, once; others pass', async () => {
    await withProxy(async proxy => {
      proxy.resetAfter(1000, { match: /GET \/cut/ })
      expect(await get(proxy, '/other')).toBe(body)
      await expect(get(proxy, '/cut')).rejects.toThrow()
      expect(proxy.stats.resets).toBe(1)
      expect(await get(proxy, '/cut')).toBe(body)
    })
  })

  it('truncates a response with a clean close', async () => {
    await withProxy(async proxy => {
      proxy.truncateAfter(2000)
      await expect(get(proxy)).rejects.toThrow()
      expect(proxy.stats.truncations).toBe(1)
      expect(await get(proxy)).toBe(body)
    })
  })
})
