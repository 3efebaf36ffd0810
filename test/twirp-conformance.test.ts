import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect } from 'vitest'
import { casConformance } from './conformance/cas.js'
import { nsConformance } from './conformance/ns.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { tempDir } from './support/temp-dir.js'

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
  }
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
