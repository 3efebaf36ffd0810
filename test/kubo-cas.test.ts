import { randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { base32 } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { casConformance, closedPort, expectCode, silentServer } from './conformance/cas.js'
import { kuboCas, type KuboContentStore } from '../adapters/cas/kubo.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { cidOf } from '../core/ids.js'

// One real js-ipfs node serving the Kubo RPC API on 127.0.0.1 for the whole file.
let node: IpfsRpcNode
beforeAll(async () => { node = await startIpfsRpcNode() })
afterAll(async () => { await node?.stop() })

// A get or has of a missing block waits out timeoutMs on js-ipfs (it cannot tell missing from not-yet-found):
// a get then fails with TIMEOUT, never NOT_FOUND (which only a node's "not found" answer gives).
const open = (): KuboContentStore => kuboCas({ url: node.url, timeoutMs: 1500 })

/** Alters a block's file in the node's on-disk repo (js-ipfs keeps one `<base32 multihash>.data` file per block). */
async function corruptOnDisk (id: CID): Promise<void> {
  const name = `${base32.encode(id.multihash.bytes).slice(1).toUpperCase()}.data`
  const entries = await readdir(join(node.repo, 'blocks'), { recursive: true, withFileTypes: true })
  const entry = entries.find(e => e.isFile() && e.name === name)
  if (entry === undefined) throw new Error(`no file ${name} in the js-ipfs repo`)
  const file = join(entry.parentPath, entry.name)
  const bytes = await readFile(file)
  bytes[0] ^= 0xff
  await writeFile(file, bytes)
}

casConformance('kubo (js-ipfs RPC node)', {
  create: async () => open(),
  corrupt: async (_store, id) => { await corruptOnDisk(id) },
  missingWithinMs: 4000,
  missingGet: 'TIMEOUT',
  unreachable: async () => kuboCas({ url: `http://127.0.0.1:${await closedPort()}`, timeoutMs: 1000 }),
  abort: true
})

describe('kubo CAS', () => {
  it('pins what it stores; gc keeps pinned blocks and frees deleted ones', async () => {
    const cas = open()
    const kept = await cas.put(randomBytes(100))
    const dropped = await cas.put(randomBytes(100))
    expect(await cas.isPinned(kept)).toBe(true)
    await cas.delete(dropped)
    expect(await cas.isPinned(dropped)).toBe(false)
    await cas.gc()
    expect(await cas.has(kept)).toBe(true)
    expect(await cas.isPinned(kept)).toBe(true)
    expect(await cas.has(dropped)).toBe(false)
    await expectCode(cas.get(dropped), 'TIMEOUT') // js-ipfs never answers "not found"
  })

  it('a get the node does not answer in time is TIMEOUT, not NOT_FOUND', async () => {
    // js-ipfs answers its own timeout for a missing block: the node was still looking.
    const started = Date.now()
    const error = await kuboCas({ url: node.url, timeoutMs: 300 }).get(cidOf(randomBytes(10))).catch((e: unknown) => e)
    await expectCode(Promise.reject(error), 'TIMEOUT')
    expect(Date.now() - started).toBeLessThan(3000)
    // A node that accepts the connection and never answers: the client's own bound ends the call.
    const silent = await silentServer()
    try {
      const cas = kuboCas({ url: `http://127.0.0.1:${silent.port}`, timeoutMs: 200 })
      for (const attempt of [async () => await cas.get(cidOf(randomBytes(10))), async () => await cas.has(cidOf(randomBytes(10))), async () => await cas.put(randomBytes(10))]) {
        await expectCode(attempt(), 'TIMEOUT')
      }
    } finally {
      await silent.close()
    }
  })

  it('NOT_FOUND only when the node answers that it has no such block', async () => {
    // A stand-in RPC API answering as Kubo does for a block it lacks (HTTP 500, JSON error).
    const { createServer } = await import('node:http')
    const fake = createServer((req, res) => {
      if (req.url?.startsWith('/api/v0/block/get') === true) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ Message: 'block was not found locally (offline): ipld: could not find bafkrei', Code: 0, Type: 'error' }))
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found')
      }
    })
    fake.listen(0, '127.0.0.1')
    await new Promise(resolve => fake.once('listening', resolve))
    const { port } = fake.address() as { port: number }
    try {
      await expectCode(kuboCas({ url: `http://127.0.0.1:${port}` }).get(cidOf(randomBytes(10))), 'NOT_FOUND')
      // A URL that is not the RPC API answers 404 "page not found": that is no answer about the block.
      await expectCode(kuboCas({ url: `http://127.0.0.1:${port}/elsewhere` }).get(cidOf(randomBytes(10))), 'UNAVAILABLE')
    } finally {
      await new Promise(resolve => fake.close(resolve))
    }
  })

  it('reports an unreachable RPC URL as UNAVAILABLE, naming the URL', async () => {
    const gone = await startIpfsRpcNode()
    await gone.stop()
    const cas = kuboCas({ url: gone.url, timeoutMs: 1000 })
    for (const attempt of [async () => await cas.put(randomBytes(10)), async () => await cas.get(cidOf(randomBytes(10))), async () => await cas.has(cidOf(randomBytes(10)))]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e)
      await expectCode(Promise.reject(error), 'UNAVAILABLE')
      expect(String(error)).toContain(gone.url)
      expect(String(error)).toContain('[kubo]')
    }
  })

  it('rejects bad configuration with INVALID_CONFIG', async () => {
    expect(() => kuboCas({ url: 'not a url' })).toThrow(/INVALID_CONFIG/)
    expect(() => kuboCas({ url: 'ftp://127.0.0.1:5001' })).toThrow(/INVALID_CONFIG/)
    expect(() => kuboCas({} as never)).toThrow(/INVALID_CONFIG/)
    expect(() => kuboCas({ url: node.url, timeoutMs: 0 })).toThrow(/INVALID_CONFIG/)
  })

  it('adds /api/v0 to a bare URL', async () => {
    const cas = kuboCas({ url: node.url.replace('/api/v0', '') })
    expect(cas.url).toBe(node.url)
    const bytes = randomBytes(64)
    expect(Buffer.from(await cas.get(await cas.put(bytes))).equals(bytes)).toBe(true)
  })
})
