import { describe, expect, it } from 'vitest'
import { appendFile, copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { base32upper } from 'multiformats/bases/base32'
import { cli, runCli, twoEndpoints } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

/** Byte offsets of the records in an entry file (24-byte header, u32 pair length first). */
async function recordOffsets (path: string): Promise<number[]> {
  const bytes = await readFile(path)
  const offsets: number[] = []
  for (let at = 0; at < bytes.length; at += 24 + bytes.readUInt32LE(at)) offsets.push(at)
  return offsets
}

async function flipByte (path: string, offset: number): Promise<void> {
  const bytes = await readFile(path)
  bytes[offset] ^= 0x40
  await writeFile(path, bytes)
}

async function lines (env: Record<string, string>, dir: string, alias: string): Promise<string[]> {
  const out = await cli(['--dir', dir, 'read', alias], { env })
  return out.trim() === '' ? [] : out.trim().split('\n')
}

describe('remotelog fsck', () => {
  it('a clean state dir: exit 0, no problems', async () => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'one', 'two'], { env })
    await cli(['--dir', alice, 'append', '--no-publish', 'three'], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })

    const own = await runCli(['--dir', alice, '--json', 'fsck'], { env })
    expect(own.code).toBe(0)
    const report = JSON.parse(own.stdout)
    expect(report.problems).toEqual([])
    // The journal keeps published records until there are enough to be worth a rewrite: all 3 are checked.
    expect(report.checked).toMatchObject({ logs: 1, follows: 0, records: 3, pages: 1 })

    const follower = await runCli(['--dir', bob, 'fsck'], { env })
    expect(follower.code).toBe(0)
    expect(follower.stdout).toMatch(/1 followed log\(s\).*no problems/)
  })

  it.each([['length field', 0], ['body', 24 + 5]])('a journal with a damaged record (%s): publish refuses and keeps it; fsck --repair keeps the intact messages', async (_what, at) => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'zero'], { env })
    for (const m of ['a', 'b', 'c']) await cli(['--dir', alice, 'append', '--no-publish', m], { env })
    const journal = join(alice, 'logs', 'default', 'journal')
    const offsets = await recordOffsets(journal)
    expect(offsets, 'zero (published, not yet dropped from the journal), a, b, c').toHaveLength(4)
    const bad = offsets[2]
    await flipByte(journal, bad + at)
    const damaged = await readFile(journal)

    const publish = await runCli(['--dir', alice, 'publish'], { env })
    expect(publish.code).toBe(7)
    expect(publish.stderr).toContain('MALFORMED')
    expect(publish.stderr).toContain(`${journal}: the record at byte ${bad} is corrupt`)
    expect((await readFile(journal)).equals(damaged)).toBe(true)

    const check = await runCli(['--dir', alice, 'fsck'], { env })
    expect(check.code).toBe(7)
    expect(check.stdout).toContain(`${journal} (byte ${bad}): the record at byte ${bad} is corrupt`)
    expect((await readFile(journal)).equals(damaged)).toBe(true)

    const repair = await runCli(['--dir', alice, '--json', 'fsck', '--repair'], { env })
    expect(repair.code).toBe(0)
    const report = JSON.parse(repair.stdout)
    expect(report.problems).toContainEqual(expect.objectContaining({ file: journal, offset: bad, repaired: true }))
    expect(report.repaired.join('\n')).toMatch(/kept 2 intact unpublished message\(s\), renumbered seq 3 → 2/)
    expect((await runCli(['--dir', alice, 'fsck'], { env })).code).toBe(0)

    expect(await cli(['--dir', alice, 'publish'], { env })).toMatch(/^published 2: length 3/)
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    expect(await lines(env, bob, 'alice')).toEqual(['0\tzero', '1\ta', '2\tc'])
  })

  it('a follower\'s messages file with a flipped byte: read fails with 7; fsck --repair and sync fetch the rest again, once each', async () => {
    const { env, alice, bob } = await twoEndpoints()
    const messages = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']
    await cli(['--dir', alice, 'append', ...messages.slice(0, 4)], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    await cli(['--dir', alice, 'append', ...messages.slice(4)], { env })
    await cli(['--dir', bob, 'sync'], { env })
    const file = join(bob, 'follows', 'alice', 'messages')
    const offsets = await recordOffsets(file)
    expect(offsets).toHaveLength(6)
    await flipByte(file, offsets[2] + 24 + 3)

    const read = await runCli(['--dir', bob, 'read', 'alice'], { env })
    expect(read.code).toBe(7)
    expect(read.stderr).toContain(`${file}: the record at byte ${offsets[2]} is corrupt`)

    const check = await runCli(['--dir', bob, '--json', 'fsck'], { env })
    expect(check.code).toBe(7)
    expect(JSON.parse(check.stdout).problems).toContainEqual(expect.objectContaining({ file, offset: offsets[2] }))

    const repair = await runCli(['--dir', bob, 'fsck', '--repair'], { env })
    expect(repair.code).toBe(0)
    expect(repair.stdout).toContain('the next sync fetches seq 2–5 again (4 message(s))')
    const [sync] = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(sync).toMatchObject({ delivered: 4, length: 6 })
    expect(await lines(env, bob, 'alice')).toEqual(messages.map((m, i) => `${i}\t${m}`))
    expect((await runCli(['--dir', bob, 'fsck'], { env })).code).toBe(0)
  })

  it('a torn journal tail is reported and cut off by --repair', async () => {
    const { env, alice } = await twoEndpoints()
    await cli(['--dir', alice, 'append', '--no-publish', 'kept'], { env })
    const journal = join(alice, 'logs', 'default', 'journal')
    const whole = await readFile(journal)
    await appendFile(journal, whole.subarray(0, 30))
    const check = await runCli(['--dir', alice, 'fsck'], { env })
    expect(check.code).toBe(7)
    expect(check.stdout).toContain('a torn tail of 30 bytes')
    expect((await runCli(['--dir', alice, 'fsck', '--repair'], { env })).code).toBe(0)
    expect((await readFile(journal)).equals(whole)).toBe(true)
  })

  it('what cannot be repaired (a corrupt state.json, follow.json) stays a problem with what to do', async () => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'one'], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await writeFile(join(alice, 'logs', 'default', 'state.json'), '{"revision": 1, "len')
    await writeFile(join(bob, 'follows', 'alice', 'follow.json'), '[]')
    const own = await runCli(['--dir', alice, 'fsck', '--repair'], { env })
    expect(own.code).toBe(7)
    expect(own.stdout).toMatch(/state\.json: not valid JSON \(.*\) — move .* aside, then `remotelog export local:b/)
    const follower = await runCli(['--dir', bob, 'fsck', '--repair'], { env })
    expect(follower.code).toBe(7)
    expect(follower.stdout).toMatch(/follow\.json: not a followed log's record — remove .* and follow the log again/)
  })

  it('a page missing from the store is reported, not repaired', async () => {
    const { env, alice } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'one', 'two'], { env })
    const head = JSON.parse(await readFile(join(alice, 'logs', 'default', 'state.json'), 'utf8')).head as string
    // The embedded store keeps blocks as <blocks>/<shard>/<base32 multihash>.data.
    const name = `${base32upper.encode(CID.parse(head).multihash.bytes)}.data`
    const file = (await readdir(env.REMOTELOG_STORE, { recursive: true })).find(f => f.endsWith(name))
    expect(file).toBeDefined()
    await rm(join(env.REMOTELOG_STORE, file!))
    const check = await runCli(['--dir', alice, 'fsck', '--repair'], { env })
    expect(check.code).toBe(7)
    expect(check.stdout).toContain(`page ${head}: missing from the local store`)
    expect(check.stdout).toContain('remotelog import backup.car')
  })

  it('a name another writer with the same key moved: fsck says to rebase', async () => {
    const { env, alice } = await twoEndpoints()
    const carol = join(await tempDir(), 'carol')
    await cli(['--dir', carol, 'init'], { env })
    await cli(['--dir', alice, 'append', 'from alice'], { env })
    await copyFile(join(alice, 'keys.json'), join(carol, 'keys.json'))
    await cli(['--dir', carol, 'append', '--no-publish', 'from carol'], { env })
    await cli(['--dir', carol, 'publish', '--rebase'], { env })
    const check = await runCli(['--dir', alice, 'fsck'], { env })
    expect(check.code).toBe(7)
    expect(check.stdout).toMatch(/another writer with this log's key published — run `remotelog publish --rebase --log default`/)
    expect(check.stdout).not.toContain('missing from')
    expect((await runCli(['--dir', carol, 'fsck'], { env })).code).toBe(0)
  })

  it.each([
    ['after-intent', 'the name never moved: the intent is dropped, the intact messages renumbered', ['0\ta', '1\tc']],
    ['after-ns', 'the name moved: the messages are in the store already, nothing is lost', ['0\ta', '1\tb', '2\tc']]
  ])('a damaged journal under a publish killed %s: %s', async (point, _what, expected) => {
    const { env, alice, bob } = await twoEndpoints()
    for (const m of ['a', 'b', 'c']) await cli(['--dir', alice, 'append', '--no-publish', m], { env })
    const killed = await runCli(['--dir', alice, 'publish'], { env: { ...env, REMOTELOG_CRASH_AT: point } })
    expect(killed.signal).toBe('SIGKILL')
    const journal = join(alice, 'logs', 'default', 'journal')
    await flipByte(journal, (await recordOffsets(journal))[1] + 24 + 5)

    const repair = await runCli(['--dir', alice, 'fsck', '--repair'], { env })
    expect(repair.code).toBe(0)
    await cli(['--dir', alice, 'publish'], { env })
    expect((await runCli(['--dir', alice, 'fsck'], { env })).code).toBe(0)
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    expect(await lines(env, bob, 'alice')).toEqual(expected)
  })
})
