import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { casConformance, closedPort, expectCode, silentServer } from './conformance/cas.js'
import { nsConformance } from './conformance/ns.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { tempDir } from './support/temp-dir.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { startService } from '../service/server.js'
import { fail } from '../core/errors.js'
import { cidOf } from '../core/ids.js'
import type { ContentStore } from '../core/content-store.js'

// The twirp adapters against a real service on a free loopback port, backed by the local on-disk stores.

let casDir = ''
casConformance('twirp', {
  async create () {
    casDir = await tempDir()
    const service = await startRemoteLogService({ dir: casDir })
    const cas = twirpCas({ url: service.url, retries: 0 })
    return { ...cas, close: async () => { await cas.close(); await service.stop() } }
  },
  // The server's store is altered behind its back: the server refuses to serve it (data_loss),
  // and the client reports INTEGRITY.
  async corrupt () {
    const entries = await readdir(join(casDir, 'blocks'), { recursive: true, withFileTypes: true })
    const files = entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
    expect(files).toHaveLength(1)
    const bytes = await readFile(files[0])
    bytes[0] ^= 0xff
    await writeFile(files[0], bytes)
  },
  unreachable: async () => twirpCas({ url: `http://127.0.0.1:${await closedPort()}`, retries: 0 }),
  abort: true
})

// The same suite with JSON bodies on the wire.
casConformance('twirp (JSON bodies)', {
  async create () {
    const service = await startRemoteLogService({ dir: await tempDir() })
    const cas = twirpCas({ url: service.url, retries: 0, format: 'json' })
    return { ...cas, close: async () => { await cas.close(); await service.stop() } }
  }
})

const nsService = await startRemoteLogService({ dir: await tempDir() })
afterAll(async () => { await nsService.stop() })
nsConformance('twirp', {
  create: async () => twirpNs({ url: nsService.url, pollMs: 20 }),
  reopen: async (ns) => {
    await ns.close()
    return twirpNs({ url: nsService.url, pollMs: 20 })
  }
})

nsConformance('twirp (JSON bodies)', {
  create: async () => twirpNs({ url: nsService.url, pollMs: 20, format: 'json' })
})

describe('twirp errors mean what they say, end to end', () => {
  /** A service whose CAS fails every get with `code`, as a backend behind it would. */
  async function serviceFailing (code: 'TIMEOUT' | 'UNAVAILABLE' | 'NOT_FOUND'): Promise<{ url: string, close: () => Promise<void> }> {
    const inner = memoryCas()
    const cas: ContentStore = { ...inner, get: async () => { throw fail(code, 'from the backend', { backend: 'test' }) } }
    return await startService({ cas, ns: memoryNs() })
  }

  it('the service\'s backend timing out reaches the client as TIMEOUT, down as UNAVAILABLE; only a real miss is NOT_FOUND', async () => {
    for (const code of ['TIMEOUT', 'UNAVAILABLE', 'NOT_FOUND'] as const) {
      const service = await serviceFailing(code)
      try {
        const cas = twirpCas({ url: service.url, retries: 0 })
        await expectCode(cas.get(cidOf(randomBytes(8))), code)
        // has() is false only for a real miss; otherwise the error surfaces.
        if (code === 'NOT_FOUND') expect(await cas.has(cidOf(randomBytes(8)))).toBe(false)
        else await expectCode(cas.has(cidOf(randomBytes(8))), code)
      } finally {
        await service.close()
      }
    }
  })

  it('a service that is down is UNAVAILABLE for CAS and NS, never NOT_FOUND', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    await expectCode(twirpCas({ url, retries: 1, backoffMs: 5 }).get(cidOf(randomBytes(8))), 'UNAVAILABLE')
    const ns = twirpNs({ url, retries: 1, backoffMs: 5 })
    await expectCode(ns.resolve(await ns.nameOf({ label: 'a', secret: randomBytes(32) })), 'UNAVAILABLE')
  })

  it('a service that never answers is TIMEOUT for CAS and NS', async () => {
    const silent = await silentServer()
    try {
      const url = `http://127.0.0.1:${silent.port}`
      await expectCode(twirpCas({ url, retries: 0, timeoutMs: 200 }).get(cidOf(randomBytes(8))), 'TIMEOUT')
      await expectCode(twirpNs({ url, retries: 0, timeoutMs: 200 }).resolve(await twirpNs({ url }).nameOf({ label: 'a', secret: randomBytes(32) })), 'TIMEOUT')
    } finally {
      await silent.close()
    }
  })
})
