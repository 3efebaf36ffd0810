import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CID } from 'multiformats/cid'
import { describe, expect, it, onTestFinished } from 'vitest'
import { decode, encode } from '../cli/daemon-protocol.js'
import { fail, isRemoteLogError } from '../core/errors.js'
import { cli, runCli, twoEndpoints } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const bin = new URL('../bin/remotelog.js', import.meta.url).pathname

/** Starts `remotelog daemon --detach` on a state dir; killed when the test ends. Returns its pid. */
async function startDaemon (dir: string, env: Record<string, string>): Promise<number> {
  const started = JSON.parse(await cli(['--dir', dir, '--json', 'daemon', '--detach'], { env }))
  onTestFinished(() => { try { process.kill(started.pid, 'SIGKILL') } catch {} })
  expect(started).toMatchObject({ dir, socket: join(dir, 'daemon.sock') })
  return started.pid
}

async function requests (dir: string, env: Record<string, string>): Promise<number> {
  return JSON.parse(await cli(['--dir', dir, '--json', 'daemon', 'status'], { env })).requests
}

async function gone (pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    await sleep(50)
  }
  throw new Error(`process ${pid} is still running`)
}

/** status --json without what tells a daemon run from a lone one. */
function statusData (stdout: string): unknown {
  const { daemon: _daemon, ...rest } = JSON.parse(stdout)
  return rest
}

describe('the daemon wire format', () => {
  it('carries bytes, bigints, CIDs, undefined, $-keys and errors with their code', () => {
    const cid = CID.parse('bafkreid66ul3lduj6mwwvy2lb33fi5ksk3rdcbnv6bip3vhb7r7igtebvi')
    const value = { bytes: new Uint8Array([0, 1, 255]), big: 2n ** 70n, cid, list: [undefined, 1, null], $odd: { a: 'b' }, skipped: undefined }
    const back = decode(JSON.parse(JSON.stringify(encode(value)))) as typeof value
    expect(back.bytes).toEqual(new Uint8Array([0, 1, 255]))
    expect(back.big).toBe(2n ** 70n)
    expect(back.cid.equals(cid)).toBe(true)
    expect(back.list).toEqual([undefined, 1, null])
    expect(back.$odd).toEqual({ a: 'b' })
    expect('skipped' in back).toBe(false)
    const error = decode(JSON.parse(JSON.stringify(encode(fail('NOT_FOUND', 'no page', { backend: 'local', details: { n: 1 } })))))
    expect(isRemoteLogError(error, 'NOT_FOUND')).toBe(true)
    expect((error as Error).message).toBe('[remotelog] [local] NOT_FOUND: no page')
    expect((error as { details?: unknown }).details).toEqual({ n: 1 })
  })
})

describe('remotelog daemon', () => {
  it('serves append, publish, sync, read and status (counted by the daemon) with the results of running alone, and keeps exit codes', async () => {
    const { env, alice, bob } = await twoEndpoints()
    const address = (await cli(['--dir', alice, 'address'], { env })).trim()
    const other = (await cli(['--dir', bob, 'address'], { env })).trim()
    await cli(['--dir', bob, 'follow', address, '--as', 'alice'], { env })
    await startDaemon(alice, env)
    await startDaemon(bob, env)
    const before = await requests(alice, env)

    // More messages than one stream's credit, so `read` exercises the flow control.
    const lines = Array.from({ length: 600 }, (_, i) => `message ${i}`)
    const appended = JSON.parse(await cli(['--dir', alice, '--json', 'append', '--stdin'], { env, input: lines.join('\n') + '\n' }))
    expect(appended).toMatchObject({ appended: 600, first: 0, last: 599, published: true, length: 600 })
    await cli(['--dir', alice, 'append', '--no-publish', 'late'], { env })
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'publish'], { env }))).toMatchObject({ published: 1, length: 601, revision: 2 })
    expect(await requests(alice, env)).toBeGreaterThanOrEqual(before + 4)

    const synced = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(synced).toMatchObject([{ alias: 'alice', delivered: 601, length: 601 }])
    const viaDaemon = {
      read: await cli(['--dir', bob, 'read', 'alice'], { env }),
      readJson: await cli(['--dir', bob, '--json', 'read', 'alice', '--from', '590'], { env }),
      own: await cli(['--dir', alice, 'read', 'log:default', '--from', '300'], { env }),
      status: await cli(['--dir', alice, '--json', 'status'], { env }),
      bobStatus: await cli(['--dir', bob, '--json', 'status'], { env }),
      address: await cli(['--dir', alice, 'address'], { env }),
      dryRun: await cli(['--dir', alice, '--json', 'scrub', '--dry-run', '3', '700'], { env })
    }
    expect(viaDaemon.read.split('\n').slice(0, 2)).toEqual(['0\tmessage 0', '1\tmessage 1'])
    expect(viaDaemon.read.trim().split('\n').at(-1)).toBe('600\tlate')
    expect(JSON.parse(viaDaemon.status)).toMatchObject({ daemon: true, logs: [{ log: 'default', length: 601, revision: 2, pending: 0 }] })
    expect(JSON.parse(viaDaemon.dryRun)).toMatchObject({ dryRun: true, scrub: [{ seq: 3, text: 'message 3' }], beyond: [700] })
    const errorsViaDaemon = await Promise.all([
      runCli(['--dir', bob, '--json', 'read', 'nosuch'], { env }),
      runCli(['--dir', alice, '--json', 'publish', '--log', 'nosuch'], { env }),
      runCli(['--dir', bob, '--json', 'follow', other, '--as', 'alice'], { env })
    ])
    const served = await requests(bob, env)

    // The same commands alone, on the same state, once the daemons are stopped.
    await cli(['--dir', alice, 'daemon', 'stop'], { env })
    await cli(['--dir', bob, 'daemon', 'stop'], { env })
    expect(existsSync(join(alice, 'daemon.sock'))).toBe(false)
    const alone = {
      read: await cli(['--dir', bob, 'read', 'alice'], { env }),
      readJson: await cli(['--dir', bob, '--json', 'read', 'alice', '--from', '590'], { env }),
      own: await cli(['--dir', alice, 'read', 'log:default', '--from', '300'], { env }),
      status: await cli(['--dir', alice, '--json', 'status'], { env }),
      bobStatus: await cli(['--dir', bob, '--json', 'status'], { env }),
      address: await cli(['--dir', alice, 'address'], { env }),
      dryRun: await cli(['--dir', alice, '--json', 'scrub', '--dry-run', '3', '700'], { env })
    }
    expect(JSON.parse(alone.status).daemon).toBe(false)
    expect({ ...alone, status: statusData(alone.status), bobStatus: statusData(alone.bobStatus) })
      .toEqual({ ...viaDaemon, status: statusData(viaDaemon.status), bobStatus: statusData(viaDaemon.bobStatus) })
    const errorsAlone = await Promise.all([
      runCli(['--dir', bob, '--json', 'read', 'nosuch'], { env }),
      runCli(['--dir', alice, '--json', 'publish', '--log', 'nosuch'], { env }),
      runCli(['--dir', bob, '--json', 'follow', other, '--as', 'alice'], { env })
    ])
    expect(errorsViaDaemon.map(r => r.code)).toEqual([4, 4, 6])
    expect(errorsViaDaemon.map(r => [r.code, r.stdout, r.stderr])).toEqual(errorsAlone.map(r => [r.code, r.stdout, r.stderr]))
    expect(served).toBeGreaterThan(0)
  })

  it('loses nothing when several CLI processes go through it at once', async () => {
    const { env, alice, bob } = await twoEndpoints()
    await startDaemon(alice, env)
    const texts = Array.from({ length: 8 }, (_, i) => `p${i}`)
    const runs = await Promise.all(texts.map(async (t, i) => await runCli(['--dir', alice, 'append', ...(i % 3 === 2 ? ['--no-publish'] : []), t, `${t}-b`], { env })))
    for (const r of runs) expect(r.code, r.stderr).toBe(0)
    await cli(['--dir', alice, 'publish'], { env })
    const own = (await cli(['--dir', alice, 'read', 'log:default'], { env })).trim().split('\n')
    expect(own.map(l => l.split('\t')[0])).toEqual(own.map((_, i) => String(i)))
    expect(own.map(l => l.split('\t')[1]).sort()).toEqual(texts.flatMap(t => [t, `${t}-b`]).sort())
    // Each process's two messages are adjacent: one append call each.
    for (const t of texts) expect(own.findIndex(l => l.endsWith(`\t${t}-b`))).toBe(own.findIndex(l => l.endsWith(`\t${t}`)) + 1)
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))).toMatchObject({ daemon: true, logs: [{ length: 16, pending: 0 }] })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    await cli(['--dir', bob, 'sync'], { env })
    expect((await cli(['--dir', bob, 'read', 'alice'], { env })).trim().split('\n')).toEqual(own)
  })

  it('leaves the CLI working alone once stopped (SIGTERM) or killed (SIGKILL, stale socket); a second daemon is refused', async () => {
    const { env, alice } = await twoEndpoints()
    let pid = await startDaemon(alice, env)
    const second = await runCli(['--dir', alice, 'daemon', '--detach'], { env })
    expect(second.code).toBe(6)
    expect(second.stderr).toContain(`a remotelog daemon (pid ${pid}) already serves ${alice}`)
    await cli(['--dir', alice, 'append', 'one'], { env })

    process.kill(pid, 'SIGTERM')
    await gone(pid)
    expect(existsSync(join(alice, 'daemon.sock'))).toBe(false)
    expect((await runCli(['--dir', alice, 'daemon', 'status'], { env })).code).toBe(9)
    await cli(['--dir', alice, 'append', 'two'], { env })
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))).toMatchObject({ daemon: false, logs: [{ length: 2 }] })

    pid = await startDaemon(alice, env)
    process.kill(pid, 'SIGKILL')
    await gone(pid)
    expect(existsSync(join(alice, 'daemon.sock'))).toBe(true) // stale
    const appended = await runCli(['--dir', alice, 'append', 'three'], { env })
    expect(appended.code, appended.stderr).toBe(0)
    expect(appended.stderr).toBe('')
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))).toMatchObject({ daemon: false, logs: [{ length: 3 }] })
    expect(await cli(['--dir', alice, 'read', 'log:default'], { env })).toBe('0\tone\n1\ttwo\n2\tthree\n')

    // A new daemon replaces the stale socket.
    await startDaemon(alice, env)
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'status'], { env }))).toMatchObject({ daemon: true, logs: [{ length: 3 }] })
  })

  it('reports UNAVAILABLE (exit 9) with a clear line when the daemon dies during a request', async () => {
    const { env, alice, bob } = await twoEndpoints()
    await cli(['--dir', alice, 'append', 'first'], { env })
    await cli(['--dir', bob, 'follow', (await cli(['--dir', alice, 'address'], { env })).trim(), '--as', 'alice'], { env })
    const pid = await startDaemon(bob, env)
    // A live follow through the daemon: one long request.
    const follower = spawn(process.execPath, [bin, '--dir', bob, 'sync', '--follow'], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    follower.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    follower.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => follower.on('close', code => resolve(code)))
    onTestFinished(() => { follower.kill('SIGKILL') })
    for (let i = 0; i < 400 && !stdout.includes('alice: +1'); i++) await sleep(50)
    expect(stdout).toContain('alice: +1')
    await cli(['--dir', alice, 'append', 'second'], { env })
    for (let i = 0; i < 400 && !stdout.includes('alice: +1 (2 in all)'); i++) await sleep(50)
    expect(stdout).toContain('alice: +1 (2 in all)')

    process.kill(pid, 'SIGKILL')
    expect(await exited).toBe(9)
    expect(stderr).toMatch(/remotelog: alice: UNAVAILABLE: the remotelog daemon \(.*daemon\.sock\) went away during watch/)
    // And alone it goes on.
    await cli(['--dir', alice, 'append', 'third'], { env })
    expect((await cli(['--dir', bob, 'sync'], { env }))).toContain('alice: +1 (3 in all)')
  })

  it('keeps a Helia node open across commands: the repo one process can hold is shared through the daemon', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const dir = join(root, 'helia')
    await cli(['--dir', dir, 'init', '--cas', 'helia'], { env })
    await startDaemon(dir, env)
    const runs = await Promise.all(['a', 'b', 'c'].map(async t => await runCli(['--dir', dir, 'append', t], { env })))
    for (const r of runs) expect(r.code, r.stderr).toBe(0)
    expect((await cli(['--dir', dir, 'read', 'log:default'], { env })).split('\n').map(l => l.split('\t')[1]).filter(Boolean).sort()).toEqual(['a', 'b', 'c'])
    expect(JSON.parse(await cli(['--dir', dir, '--json', 'status'], { env }))).toMatchObject({ cas: 'helia', daemon: true, logs: [{ length: 3 }] })
    const exported = join(root, 'backup.car')
    await cli(['--dir', dir, 'export', 'log:default', '--out', exported], { env })
    expect(JSON.parse(await cli(['--json', 'verify', exported], { env }))).toMatchObject({ ok: true, messages: 3 })
    await cli(['--dir', dir, 'daemon', 'stop'], { env })
    expect(JSON.parse(await cli(['--dir', dir, '--json', 'status'], { env }))).toMatchObject({ cas: 'helia', daemon: false, logs: [{ length: 3 }] })
  })
})
