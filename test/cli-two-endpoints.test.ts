import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { cli, runCli, twoEndpoints } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

async function readSeqs (env: Record<string, string>, dir: string, alias: string): Promise<string[]> {
  const out = await cli(['--dir', dir, 'read', alias], { env })
  return out.trim() === '' ? [] : out.trim().split('\n')
}

describe('two state dirs on one machine, through the CLI only', () => {
  it('alice publishes, bob follows and syncs exactly what is new, in order', async () => {
    const { env, alice, bob } = await twoEndpoints()
    const messages = Array.from({ length: 1000 }, (_, i) => `message ${i}`)
    const appended = JSON.parse(await cli(['--dir', alice, '--json', 'append', '--stdin'], { env, input: messages.join('\n') + '\n' }))
    expect(appended).toMatchObject({ appended: 1000, first: 0, last: 999, published: true, length: 1000 })

    const address = (await cli(['--dir', alice, 'address'], { env })).trim()
    expect(address).toMatch(/^local:b[a-z2-7]+$/)
    await cli(['--dir', bob, 'follow', address, '--as', 'alice'], { env })

    const [first] = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(first).toMatchObject({ alias: 'alice', delivered: 1000, length: 1000 })
    const lines = await readSeqs(env, bob, 'alice')
    expect(lines).toEqual(messages.map((m, i) => `${i}\t${m}`))

    const [again] = JSON.parse(await cli(['--dir', bob, '--json', 'sync', 'alice'], { env }))
    expect(again).toMatchObject({ delivered: 0, nsRequests: 1, casRequests: 0 })

    await cli(['--dir', alice, 'append', 'one more'], { env })
    const [third] = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(third).toMatchObject({ delivered: 1, length: 1001 })
    expect((await readSeqs(env, bob, 'alice')).at(-1)).toBe('1000\tone more')

    const status = JSON.parse(await cli(['--dir', bob, '--json', 'status'], { env }))
    expect(status.follows).toEqual([expect.objectContaining({ alias: 'alice', address, length: 1001 })])
  })

  it.each(['after-sync-flush', 'after-messages-append'])('a reader killed mid-sync (%s) resumes without gaps or duplicates', async (point) => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', '--stdin'], { env, input: Array.from({ length: 1500 }, (_, i) => `m${i}`).join('\n') })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })

    const killed = await runCli(['--dir', bob, 'sync'], { env: { ...env, REMOTELOG_CRASH_AT: point } })
    expect(killed.signal).toBe('SIGKILL')
    const partial = await readSeqs(env, bob, 'alice')
    expect(partial.length).toBeGreaterThan(0)
    expect(partial.length).toBeLessThan(1500)

    const [resumed] = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(resumed.delivered).toBe(1500 - partial.length)
    const all = await readSeqs(env, bob, 'alice')
    expect(all).toEqual(Array.from({ length: 1500 }, (_, i) => `${i}\tm${i}`))
  })

  it('fails with one line and a non-zero status on bad input', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const dir = join(root, 'x')
    const noConfig = await runCli(['--dir', dir, 'status'], { env })
    expect(noConfig.code).toBe(3)
    expect(noConfig.stderr.trim().split('\n')).toHaveLength(1)
    expect(noConfig.stderr).toMatch(/INVALID_CONFIG: no config at .* \(run: remotelog init\)/)
    await cli(['--dir', dir, 'init'], { env })
    const badAddress = await runCli(['--dir', dir, 'follow', 'nonsense'], { env })
    expect(badAddress.code).toBe(2)
    expect(badAddress.stderr).toMatch(/INVALID_INPUT: not a log address/)
    const unknown = await runCli(['--dir', dir, 'sync', 'nobody'], { env })
    expect(unknown.code).toBe(4)
    expect(unknown.stderr).toMatch(/not following "nobody"/)
  })
})

describe('several processes on one shared store', () => {
  it('two writers and a reader running at the same time lose nothing', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const dirs = ['alice', 'carol', 'bob'].map(n => join(root, n))
    await Promise.all(dirs.map(async d => await cli(['--dir', d, 'init'], { env })))
    const [alice, carol, bob] = dirs
    const addresses = await Promise.all([alice, carol].map(async d => (await cli(['--dir', d, 'address'], { env })).trim()))
    await cli(['--dir', bob, 'follow', addresses[0], '--as', 'alice'], { env })
    await cli(['--dir', bob, 'follow', addresses[1], '--as', 'carol'], { env })
    const batches = async (dir: string, who: string): Promise<void> => {
      for (let b = 0; b < 3; b++) await cli(['--dir', dir, 'append', '--stdin'], { env, input: Array.from({ length: 50 }, (_, i) => `${who} ${b * 50 + i}`).join('\n') })
    }
    const reading = (async () => { for (let i = 0; i < 3; i++) await cli(['--dir', bob, 'sync'], { env }) })()
    await Promise.all([batches(alice, 'alice'), batches(carol, 'carol'), reading])
    await cli(['--dir', bob, 'sync'], { env })
    for (const who of ['alice', 'carol']) {
      expect(await readSeqs(env, bob, who)).toEqual(Array.from({ length: 150 }, (_, i) => `${i}\t${who} ${i}`))
    }
  })
})
