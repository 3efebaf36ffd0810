import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { cli, runCli, twoEndpoints } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

async function lines (env: Record<string, string>, dir: string, alias: string): Promise<string[]> {
  return (await cli(['--dir', dir, 'read', alias], { env })).trim().split('\n').filter(l => l !== '')
}

describe('a writer killed between CAS put and NS publish', () => {
  it.each(['after-cas', 'after-intent', 'after-ns'])('loses no acknowledged message and duplicates none (killed %s)', async (point) => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'a0', 'a1', 'a2'], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })

    // Journaled (acknowledged) first, then the publish is killed at the injected point.
    await cli(['--dir', alice, 'append', '--no-publish', 'b0', 'b1'], { env })
    const killed = await runCli(['--dir', alice, 'publish'], { env: { ...env, REMOTELOG_CRASH_AT: point } })
    expect(killed.signal).toBe('SIGKILL')

    // The next command finishes (or redoes) the publish; later appends continue the sequence.
    await cli(['--dir', alice, 'publish'], { env })
    await cli(['--dir', alice, 'append', 'c0'], { env })
    const status = JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))
    expect(status.logs[0]).toMatchObject({ length: 6, pending: 0, revision: 3 })

    await cli(['--dir', bob, 'sync'], { env })
    expect(await lines(env, bob, 'alice')).toEqual(['0\ta0', '1\ta1', '2\ta2', '3\tb0', '4\tb1', '5\tc0'])
  })

  it('an append whose own publish was killed is journaled, and published by the next command', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const alice = join(root, 'alice')
    await cli(['--dir', alice, 'init'], { env })
    await cli(['--dir', alice, 'append', 'a0'], { env })
    const killed = await runCli(['--dir', alice, 'append', 'x'], { env: { ...env, REMOTELOG_CRASH_AT: 'after-cas' } })
    expect(killed.signal).toBe('SIGKILL')
    await cli(['--dir', alice, 'publish'], { env })
    expect(await lines(env, alice, 'log:default')).toEqual(['0\ta0', '1\tx'])
  })
})
