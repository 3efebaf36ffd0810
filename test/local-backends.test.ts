import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { casConformance } from './conformance/cas.js'
import { nsConformance } from './conformance/ns.js'
import { localCas } from '../adapters/cas/local.js'
import { localNs } from '../adapters/ns/local.js'
import { tempDir } from './support/temp-dir.js'

async function filesUnder (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
}

let casDir = ''
casConformance('local', {
  create: async () => localCas({ path: casDir = await tempDir() }),
  corrupt: async () => {
    const files = await filesUnder(casDir)
    expect(files).toHaveLength(1)
    const file = files[0]
    const bytes = await readFile(file)
    bytes[0] ^= 0xff
    await writeFile(file, bytes)
  },
  abort: true
})

const nsDir = await tempDir()
nsConformance('local', {
  create: async () => localNs({ path: nsDir, pollMs: 20 }),
  reopen: async (ns) => {
    await ns.close()
    return localNs({ path: nsDir, pollMs: 20 })
  }
})
