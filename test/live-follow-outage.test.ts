import { describe, expect, it, onTestFinished } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { remoteConfig } from '../service/remote-config.js'
import { cli, runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))

/** A CLI child process that keeps running; its output so far, and a way to wait for a line. */
interface Running {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  waitFor: (what: string, test: (stdout: string, stderr: string) => boolean, ms?: number) => Promise<void>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

function start (args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const closed = once(child, 'close') as Promise<[number | null]>
  const running: Running = {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor (what, test, ms = 30_000) {
      const end = Date.now() + ms
      while (!test(out, err)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`remotelog ${args.join(' ')} ended (${child.exitCode ?? child.signalCode}) before ${what}: ${err}`)
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stdout: ${out}; stderr: ${err}`)
        await new Promise(resolve => setTimeout(resolve, 25))
      }
    },
    async stop (signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const [code] = await closed
      return code
    }
  }
  onTestFinished(async () => { await running.stop('SIGKILL') })
  return running
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** `remotelog serve` on the server state dir (its on-disk store), on `port`; resolves once it listens. */
async function serve (dir: string, env: Record<string, string>, port: number): Promise<Running> {
  const server = start(['--dir', dir, '--json', 'serve', '--port', String(port)], env)
  await server.waitFor('the service to listen', out => out.includes('"url"'))
  return server
}

async function readTexts (dir: string, alias: string, env: Record<string, string>): Promise<string[]> {
  const out = await cli(['--dir', dir, '--json', 'read', alias], { env })
  return out.trim() === '' ? [] : out.trim().split('\n').map(l => { const m = JSON.parse(l) as { seq: number, text: string }; return `${m.seq}:${m.text}` })
}

const batch = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `m${from + i}`)

describe('sync --follow survives a restart of the remote log service', () => {
  it('keeps following through 3 s of outage, prints retries, and delivers every message once, in order', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const serverDir = join(root, 'server')
    await cli(['--dir', serverDir, 'init'], { env })
    const port = await freePort()
    let server = await serve(serverDir, env, port)
    const url = `http://127.0.0.1:${port}`

    const alice = join(root, 'alice')
    const bob = join(root, 'bob')
    await cli(['--dir', alice, 'init', '--remote', url], { env })
    await cli(['--dir', bob, 'init', '--remote', url], { env })
    await cli(['--dir', alice, 'append', ...batch(0, 10)], { env })
    const address = (await cli(['--dir', alice, 'address'], { env })).trim()
    expect(address).toMatch(/^twirp:/)
    await cli(['--dir', bob, 'follow', address, '--as', 'alice'], { env })

    const follower = start(['--dir', bob, 'sync', '--follow'], env)
    await follower.waitFor('the first 10 messages', out => out.includes('(10 in all'))

    // The service goes down for 3 s, then comes back on the same port with the same data folder.
    expect(await server.stop('SIGKILL')).toBe(null)
    await new Promise(resolve => setTimeout(resolve, 3000))
    expect(follower.child.exitCode).toBe(null)
    server = await serve(serverDir, env, port)

    await cli(['--dir', alice, 'append', ...batch(10, 10)], { env })
    await follower.waitFor('20 messages', out => out.includes('(20 in all'))
    await cli(['--dir', alice, 'append', ...batch(20, 5)], { env })
    await follower.waitFor('25 messages', out => out.includes('(25 in all'))

    expect(follower.child.exitCode).toBe(null)
    const retries = follower.stderr().trim().split('\n').filter(l => l !== '')
    expect(retries.length).toBeGreaterThanOrEqual(2)
    for (const line of retries) expect(line).toMatch(/^remotelog: alice: \[twirp\] UNAVAILABLE: .*; retrying in \d+\.\d s \(attempt \d+\)$/)
    expect(await readTexts(bob, 'alice', env)).toEqual(batch(0, 25).map((m, i) => `${i}:${m}`))

    expect(await follower.stop('SIGTERM')).toBe(0)
    expect(await server.stop('SIGTERM')).toBe(0)
  })
})

describe('sync of several logs', () => {
  it('syncs every log it can, names each one that failed, and exits non-zero', async () => {
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store') }
    const alice = join(root, 'alice')
    const bob = join(root, 'bob')
    await cli(['--dir', alice, 'init'], { env })
    await cli(['--dir', bob, 'init'], { env })
    // Bob also resolves twirp: addresses, through a service that is not running.
    const config = JSON.parse(await readFile(join(bob, 'config.json'), 'utf8')) as { resolvers?: Record<string, unknown> }
    config.resolvers = { ...config.resolvers, twirp: remoteConfig(`http://127.0.0.1:${await freePort()}`, { retries: 1 }).ns }
    await writeFile(join(bob, 'config.json'), JSON.stringify(config, null, 2))

    await cli(['--dir', alice, 'append', 'a0', 'a1'], { env })
    const address = (await cli(['--dir', alice, 'address'], { env })).trim()
    await cli(['--dir', bob, 'follow', `twirp:${address.split(':')[1]}`, '--as', 'a-offline'], { env })
    await cli(['--dir', bob, 'follow', address, '--as', 'b-alice'], { env })

    const text = await runCli(['--dir', bob, 'sync'], { env })
    expect(text.code).toBe(9)
    expect(text.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^remotelog: a-offline: \[twirp\] UNAVAILABLE: /)])
    expect(text.stdout).toMatch(/^b-alice: \+2 \(2 in all\)/)
    expect(await readTexts(bob, 'b-alice', env)).toEqual(['0:a0', '1:a1'])

    await cli(['--dir', alice, 'append', 'a2'], { env })
    const json = await runCli(['--dir', bob, '--json', 'sync'], { env })
    expect(json.code).toBe(9)
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ alias: 'a-offline', delivered: 0, error: { code: 'UNAVAILABLE', message: expect.stringMatching(/^\[twirp\] UNAVAILABLE: /) } }),
      expect.objectContaining({ alias: 'b-alice', delivered: 1, length: 3 })
    ])
    expect(JSON.parse(json.stdout)[1]).not.toHaveProperty('error')

    // Named logs: the same, in the order given.
    const named = await runCli(['--dir', bob, 'sync', 'b-alice', 'nobody', 'a-offline'], { env })
    expect(named.code).toBe(4)
    expect(named.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^remotelog: nobody: NOT_FOUND: not following "nobody"/),
      expect.stringMatching(/^remotelog: a-offline: \[twirp\] UNAVAILABLE: /)
    ])
  })
})
