import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cli, runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

describe('remotelog export / verify / import', () => {
  it('backs a log up, verifies it, rejects a damaged copy, and restores it on a new device', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const alice = join(root, 'alice')
    const pack = join(root, 'alice.car')
    await cli(['--dir', alice, 'init'], { env })
    await cli(['--dir', alice, 'append', 'one', 'two', 'three'], { env })
    const address = (await cli(['--dir', alice, 'address'], { env })).trim()

    const exported = JSON.parse(await cli(['--dir', alice, '--json', 'export', 'log:default', '--out', pack], { env }))
    expect(exported).toMatchObject({ file: pack, messages: 3, length: 3, incremental: false, address })
    expect(await cli(['verify', pack])).toMatch(/^ok: .*\n.*length 3, revision 1.*\n3 messages \(3 inline, 0 scrubbed\)/)

    await cli(['--dir', alice, 'append', 'four'], { env })
    const since = join(root, 'since.car')
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'export', 'default', '--out', since, '--since', '3'], { env }))).toMatchObject({ incremental: true, since: 3, messages: 1 })

    const bytes = await readFile(pack)
    bytes[bytes.length - 5] ^= 0x40
    const damaged = join(root, 'damaged.car')
    await writeFile(damaged, bytes)
    const bad = await runCli(['verify', damaged])
    expect(bad.code).toBe(7) // INTEGRITY
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/INTEGRITY: block #\d+ does not hash to its CID/)
    expect((await runCli(['verify', join(root, 'none.car')])).code).toBe(4) // NOT_FOUND
    expect((await runCli(['--dir', alice, 'export', 'log:default', '--out', join(root, 'x.car'), '--since', 'soon'], { env })).code).toBe(2)

    // A new device: its own store, alice's key; the full pack, then the incremental one restores the log.
    const key = JSON.parse(await readFile(join(alice, 'keys.json'), 'utf8')).logs.default as string
    const phone = join(root, 'phone')
    const phoneEnv = { REMOTELOG_STORE: join(root, 'phone-store') }
    await cli(['--dir', phone, 'init'], { env: phoneEnv })
    const failed = await runCli(['--dir', phone, 'import', damaged, '--restore', '--key', key], { env: phoneEnv })
    expect(failed.code).toBe(7)
    expect(JSON.parse(await cli(['--dir', phone, '--json', 'import', pack], { env: phoneEnv }))).toMatchObject({ stored: 1, messages: 3 })
    const restored = JSON.parse(await cli(['--dir', phone, '--json', 'import', since, '--restore', '--key', key], { env: phoneEnv }))
    // The pack reaches back to the page of seq 2 (it may have merged since): that page and the new one.
    expect(restored).toMatchObject({ incremental: true, stored: 2, restored: { address, length: 4, revision: 2, published: true } })
    await cli(['--dir', phone, 'append', 'from the phone'], { env: phoneEnv })
    expect(await cli(['--dir', phone, 'read', 'log:default'], { env: phoneEnv })).toBe('0\tone\n1\ttwo\n2\tthree\n3\tfour\n4\tfrom the phone\n')

    // --cas loads into another store without touching the endpoint.
    const other = join(root, 'other-blocks')
    const loaded = JSON.parse(await cli(['--dir', phone, '--json', 'import', pack, '--cas', JSON.stringify({ driver: 'local', path: other })], { env: phoneEnv }))
    expect(loaded).toMatchObject({ stored: 1, messages: 3 })
    expect((await runCli(['--dir', phone, 'import', pack, '--cas', 'local', '--restore'], { env: phoneEnv })).code).toBe(2)
  })
})
