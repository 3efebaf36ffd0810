import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { localCas } from '../adapters/cas/local.js'
import { cidOf } from '../core/ids.js'
import { cli, runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

async function inStore (store: string, text: string): Promise<boolean> {
  const cas = await localCas({ path: join(store, 'blocks') })
  try {
    return await cas.has(cidOf(bytes(text)))
  } finally {
    await cas.close()
  }
}

describe('a scrub killed part-way', () => {
  it.each(['after-intent', 'after-ns', 'after-scrub-publish'])('is finished by the next scrub: published once, payload deleted (killed %s)', async (point) => {
    const root = await tempDir()
    const store = join(root, 'store')
    const env = { REMOTELOG_STORE: store }
    const alice = join(root, 'alice')
    const bob = join(root, 'bob')
    await cli(['--dir', alice, 'init'], { env })
    const configFile = join(alice, 'config.json')
    const config = JSON.parse(await readFile(configFile, 'utf8'))
    await writeFile(configFile, JSON.stringify({ ...config, log: { mode: 'pointer', pageEntries: 4 } }))
    await cli(['--dir', alice, 'append', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'], { env })
    await cli(['--dir', bob, 'init'], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })

    const killed = await runCli(['--dir', alice, 'scrub', '3'], { env: { ...env, REMOTELOG_CRASH_AT: point } })
    expect(killed.signal).toBe('SIGKILL')
    expect(await inStore(store, 'm3')).toBe(true) // killed before its deletes

    const finished = JSON.parse(await cli(['--dir', alice, '--json', 'scrub', '3'], { env }))
    expect(finished).toMatchObject({ scrubbed: [], already: [3], all: [3] })
    expect(finished.deleted).toEqual([cidOf(bytes('m3')).toString()])
    expect(await inStore(store, 'm3')).toBe(false)
    expect(await inStore(store, 'm4')).toBe(true)

    const status = JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))
    expect(status.logs[0]).toMatchObject({ length: 10, revision: 2 }) // one publish, one scrub: no double republish

    const sync = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(sync[0]).toMatchObject({ delivered: 0, scrubbed: [3] })
    const lines = (await cli(['--dir', bob, 'read', 'alice'], { env })).trim().split('\n')
    expect(lines).toEqual(['0\tm0', '1\tm1', '2\tm2', '3\t(scrubbed)', '4\tm4', '5\tm5', '6\tm6', '7\tm7', '8\tm8', '9\tm9'])
  })
})
