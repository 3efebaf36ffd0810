import { cp, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cli, runCli, twoEndpoints, type CliResult } from './support/cli.js'

async function lines (env: Record<string, string>, dir: string, alias: string): Promise<string[]> {
  return (await cli(['--dir', dir, 'read', alias], { env })).split('\n').filter(l => l !== '')
}

/** Every acknowledged message once, numbered 0, 1, 2, … with nothing else. */
function expectExactlyOnce (read: string[], acknowledged: string[]): void {
  expect(read.map(l => l.split('\t')[0])).toEqual(read.map((_, i) => String(i)))
  expect(read.map(l => l.split('\t')[1]).sort()).toEqual([...acknowledged].sort())
}

describe('one state dir, several remotelog processes at once', () => {
  it('keeps every acknowledged append exactly once, in sequence order, and the log never wedges', async () => {
    const { env, alice, bob } = await twoEndpoints()
    const acknowledged: string[] = []
    for (let round = 0; round < 4; round++) {
      const runs = await Promise.all([0, 1, 2].map(async p => {
        const text = `p${p}-r${round}`
        // Some appends publish at once, some only journal; a bare publish races them too.
        const args = p === 2 ? ['append', '--no-publish', text] : ['append', text]
        return { text, result: await runCli(['--dir', alice, ...args], { env }) }
      }).concat([runCli(['--dir', alice, 'publish'], { env }).then(result => ({ text: '', result }))]))
      for (const { text, result } of runs) {
        expect(result.code, result.stderr).toBe(0)
        if (text !== '') acknowledged.push(text)
      }
    }
    await cli(['--dir', alice, 'publish'], { env })
    const status = JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))
    expect(status.logs[0]).toMatchObject({ length: acknowledged.length, pending: 0 })
    expectExactlyOnce(await lines(env, alice, 'log:default'), acknowledged)

    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    expectExactlyOnce(await lines(env, bob, 'alice'), acknowledged)
  })

  it('keeps the key of every log created at once by different processes', async () => {
    const { env, alice } = await twoEndpoints()
    const logs = ['a', 'b', 'c', 'd']
    const runs = await Promise.all(logs.map(async log => await runCli(['--dir', alice, '--json', 'append', '--log', log, `first of ${log}`], { env })))
    for (const r of runs) expect(r.code, r.stderr).toBe(0)
    const keys = JSON.parse(await readFile(join(alice, 'keys.json'), 'utf8')).logs
    expect(Object.keys(keys).sort()).toEqual(['a', 'b', 'c', 'd', 'default'])
    for (const log of logs) {
      // The address the log had when it published is the one it has now: its key was kept.
      const address = (await cli(['--dir', alice, 'address', '--log', log], { env })).trim()
      await cli(['--dir', alice, 'append', '--log', log, 'second'], { env })
      expect((await cli(['--dir', alice, 'address', '--log', log], { env })).trim()).toBe(address)
      expect(await lines(env, alice, `log:${log}`)).toEqual([`0\tfirst of ${log}`, '1\tsecond'])
    }
  })

  it('delivers each message once when two syncs of one follower run at once', async () => {
    const { env, alice, bob } = await twoEndpoints()
    const texts = Array.from({ length: 40 }, (_, i) => `m${i}`)
    await cli(['--dir', alice, 'append', ...texts], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    const syncs: CliResult[] = await Promise.all([0, 1].map(async () => await runCli(['--dir', bob, '--json', 'sync'], { env })))
    for (const s of syncs) expect(s.code, s.stderr).toBe(0)
    const delivered = syncs.map(s => JSON.parse(s.stdout)[0].delivered as number)
    expect(delivered.sort()).toEqual([0, 40])
    expectExactlyOnce(await lines(env, bob, 'alice'), texts)
  })
})

describe('two devices holding one log key', () => {
  it('the one that lost the race gets CONFLICT saying how to recover; `publish --rebase` recovers and nothing is lost', async () => {
    const { env, alice, bob } = await twoEndpoints()
    const phone = join(alice, '..', 'phone')
    await cli(['--dir', phone, 'init'], { env })
    await cli(['--dir', alice, 'append', 'a0', 'a1'], { env })
    await cp(join(alice, 'keys.json'), join(phone, 'keys.json'))

    const lost = await runCli(['--dir', phone, 'append', 'p0'], { env })
    expect(lost.code).toBe(6)
    expect(lost.stderr).toMatch(/CONFLICT.*publish --rebase/)
    // Not wedged: the message is saved, and the same error comes back until the user rebases.
    expect((await runCli(['--dir', phone, 'publish'], { env })).code).toBe(6)
    const rebased = await runCli(['--dir', phone, 'publish', '--rebase'], { env })
    expect(rebased.code, rebased.stderr).toBe(0)

    // The first device is behind now: the same recovery works there.
    expect((await runCli(['--dir', alice, 'append', 'a2'], { env })).code).toBe(6)
    await cli(['--dir', alice, 'publish', '--rebase'], { env })

    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    expect(await lines(env, bob, 'alice')).toEqual(['0\ta0', '1\ta1', '2\tp0', '3\ta2'])
  })
})

describe('names typed on the command line', () => {
  it('refuses aliases that leave their folder and logs that do not exist, and changes nothing', async () => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'a0'], { env })
    const address = (await cli(['--dir', alice, 'address'], { env })).trim()
    const keys = await readFile(join(bob, 'keys.json'), 'utf8')
    for (const args of [['follow', address, '--as', '..'], ['follow', address, '--as', '.'], ['unfollow', '..'], ['unfollow', '.']]) {
      const r = await runCli(['--dir', bob, ...args], { env })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    for (const args of [['read', 'log:nope'], ['address', '--log', 'nope'], ['publish', '--log', 'other']]) {
      expect((await runCli(['--dir', bob, ...args], { env })).code, args.join(' ')).toBe(4)
    }
    expect(await readFile(join(bob, 'keys.json'), 'utf8')).toBe(keys)
    const status = JSON.parse(await cli(['--dir', bob, '--json', 'status'], { env }))
    expect(status.logs.map((l: { log: string }) => l.log)).toEqual(['default'])
    await cli(['--dir', bob, 'follow', address, '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    expect(await lines(env, bob, 'alice')).toEqual(['0\ta0'])
  })
})
