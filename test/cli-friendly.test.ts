import { beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cli, runCli, type CliResult } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'
import { examples } from '../cli/help.js'

// The real CLI in child processes, as a user runs it; `script` (util-linux) gives it a terminal.
const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))
const hasScript = spawnSync('script', ['--version']).status === 0
const version = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** A failure as the CLI contract says: this exit status, one line on stderr, no help dumped. */
function expectOneLine (r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code)
  expect(r.stderr.split('\n'), r.stderr).toHaveLength(2)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr + r.stdout).not.toMatch(/Usage:|Commands:|\n {4}at /)
}

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

/** Runs the CLI on a terminal (stdin, stdout and stderr all a pty); `input` is typed into it. */
async function runInTerminal (args: string[], options: { env?: Record<string, string>, input?: string } = {}): Promise<{ code: number | null, output: string }> {
  const child = spawn('script', ['-qec', [process.execPath, bin, ...args].map(quote).join(' '), '/dev/null'], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  child.stdin.end(options.input ?? '')
  const [code] = await once(child, 'close') as [number | null]
  return { code, output }
}

/** Runs the CLI and keeps its stdout as bytes (a pack written to standard output). */
async function runCliBytes (args: string[], env: Record<string, string>): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => chunks.push(d))
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code] = await once(child, 'close') as [number | null]
  return { code, stdout: Buffer.concat(chunks), stderr }
}

async function listen (handler: (path: string) => [number, string]): Promise<{ url: string, server: Server }> {
  const server = createServer((req, res) => {
    const [status, body] = handler(req.url ?? '')
    res.writeHead(status, { 'content-type': 'application/json' }).end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }
}

describe('a CLI people like: version, help, argument errors', () => {
  it('prints its version; every command\'s help has examples and the global options', async () => {
    const [text, json, help, syncHelp, keepHelp] = await Promise.all([
      runCli(['--version']), runCli(['--json', '--version']), runCli(['--help']), runCli(['sync', '--help']), runCli(['devnet', 'keep', '--help'])
    ])
    expect(text).toMatchObject({ code: 0, stdout: `remotelog ${version}\n` })
    expect(JSON.parse(json.stdout)).toEqual({ name: 'remotelog', version, node: process.version })

    // Every command `remotelog --help` lists has examples, and every example names a command.
    const listed = help.stdout.split('Commands:\n')[1].split('\n\n')[0].split('\n').map(l => /^ {2}(\S+)/.exec(l)?.[1]).filter((c): c is string => c !== undefined && c !== 'help')
    expect(listed).toContain('fsck')
    for (const command of listed) expect(examples[command], command).toBeDefined()
    for (const path of Object.keys(examples)) expect(listed).toContain(path.split(' ')[0])
    expect(help.stdout).toMatch(/Examples:\n {2}\$ remotelog/)

    for (const [out, path] of [[syncHelp.stdout, 'sync'], [keepHelp.stdout, 'devnet keep']] as const) {
      expect(out).toMatch(/Global Options:[^]*--dir <dir>[^]*--config <file>[^]*--json/)
      expect(out).toContain(`Examples:\n  $ remotelog ${path}`)
    }
  })

  it('argument errors: exit 2, one line naming the option, a suggestion, --json honoured', async () => {
    const [command, option, from, file, out, nested, json] = await Promise.all([
      runCli(['stauts']),
      runCli(['status', '--jsn']),
      runCli(['read', '--from', 'abc', 'alice']),
      runCli(['append', '--file']),
      runCli(['export', 'log:default']),
      runCli(['devnet', 'keep']),
      runCli(['--json', 'sycn'])
    ])
    expectOneLine(command, 2, /^remotelog: unknown command 'stauts'; did you mean 'status'\? \(see remotelog --help\)$/m)
    expectOneLine(option, 2, /^remotelog: unknown option '--jsn'; did you mean --json\? \(see remotelog status --help\)$/m)
    expectOneLine(from, 2, /option '--from <seq>' argument 'abc' is invalid: not a non-negative integer \(see remotelog read --help\)$/m)
    expectOneLine(file, 2, /option '--file <path>' argument missing \(see remotelog append --help\)$/m)
    expectOneLine(out, 2, /required option '--out <file>' not specified/)
    expectOneLine(nested, 2, /missing required argument 'address' \(see remotelog devnet keep --help\)$/m)
    expectOneLine(json, 2, /unknown command 'sycn'/)
    // With --json the error is one JSON object on stdout (and the one line on stderr), nothing else.
    expect(json.stdout.trim().split('\n')).toHaveLength(1)
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'INVALID_INPUT', message: "unknown command 'sycn'; did you mean 'sync'? (see remotelog --help)", suggestion: 'sync' } })
  })
})

describe('a CLI people like: with a log to work on', () => {
  let env: Record<string, string>
  let root: string
  let alice: string
  let bob: string
  let address: string

  beforeAll(async () => {
    root = await tempDir()
    env = { REMOTELOG_STORE: join(root, 'store') }
    alice = join(root, 'alice')
    bob = join(root, 'bob')
    await Promise.all([cli(['--dir', alice, 'init'], { env }), cli(['--dir', bob, 'init'], { env })])
    await writeFile(join(root, 'lines.txt'), Array.from({ length: 3000 }, (_, i) => `line ${i}`).join('\n') + '\n')
    await cli(['--dir', alice, 'append', '--file', join(root, 'lines.txt')], { env })
    address = (await cli(['--dir', alice, 'address'], { env })).trim()
  })

  it('follow checks the scheme and the key at once; sync shows done/total, percent and ETA on a terminal and clears them; --follow says what it watches', async () => {
    const key = address.split(':')[1]
    const [scheme, encoding, unconfigured] = await Promise.all([
      runCli(['--dir', bob, 'follow', `locl:${key}`], { env }),
      runCli(['--dir', bob, 'follow', `local:${key.slice(0, 20)}`], { env }),
      runCli(['--dir', bob, '--json', 'follow', 'hypercore:yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'], { env })
    ])
    expectOneLine(scheme, 2, /unknown scheme "locl" \(known: local, twirp, [a-z, ]+; did you mean "local"\?\)/)
    expectOneLine(encoding, 2, /not a local address: .*"b" and 52 characters .*\(this one has 20\)/)
    expect(unconfigured.code).toBe(3)
    expect(JSON.parse(unconfigured.stdout).error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/no name system configured for "hypercore:" addresses/) })
    expect(await cli(['--dir', bob, 'follow', address, '--as', 'alice'], { env })).toMatch(/^following local:\S+ as alice\nnext: remotelog sync alice\n$/)

    if (hasScript) {
      const synced = await runInTerminal(['--dir', bob, 'sync'], { env })
      expect(synced.code, synced.output).toBe(0)
      expect(synced.output).toMatch(/alice \[░+\] 0\/3000 messages {3}0% {2}ETA \?/)
      expect(synced.output).toMatch(/alice \[█+\] 3000\/3000 messages 100% {2}ETA \d+s/)
      // The bar's line is cleared (ESC [2K) before the summary line.
      expect(synced.output).toMatch(/\x1b\[2Kalice: \+3000 \(3000 in all\)/)
    }

    const json = JSON.parse(await cli(['--dir', bob, '--json', 'sync'], { env }))
    expect(Number.isInteger(json[0].ms)).toBe(true)

    const [none, follower] = [runCli(['--dir', alice, 'sync', '--follow'], { env }), spawn(process.execPath, [bin, '--dir', bob, 'sync', '--follow'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })]
    let said = ''
    follower.stdout.on('data', (d: Buffer) => { said += d.toString() })
    while (!said.includes('\n')) await new Promise(resolve => setTimeout(resolve, 25))
    expect(said).toBe(`following alice (${address}) live: new messages print as they arrive; Ctrl-C to stop\n`)
    follower.kill('SIGINT')
    expect((await once(follower, 'close'))[0]).toBe(0)
    expectOneLine(await none, 2, /not following any log, so there is nothing to watch: `remotelog follow ADDRESS` first/)
  })

  it('scrub: --dry-run changes nothing, a terminal is asked, --yes is not; JSON has CIDs as strings; tombstones stay distinct', async () => {
    await cli(['--dir', alice, 'append', '(scrubbed)', 'secret one', 'secret two'], { env }) // seq 3000–3002
    const dry = await cli(['--dir', alice, 'scrub', '--dry-run', '3001', '3002', '9999'], { env })
    expect(dry).toBe('would scrub 2 message(s) from log default (3003 published):\n  3001\tsecret one\n  3002\tsecret two\nnot published (refused): 9999\n')
    expect(JSON.parse(await cli(['--dir', alice, '--json', 'scrub', '-n', '3001'], { env }))).toMatchObject({ dryRun: true, scrub: [{ seq: 3001, text: 'secret one' }] })

    if (hasScript) {
      const declined = await runInTerminal(['--dir', alice, 'scrub', '3001'], { env, input: 'n\n' })
      expect(declined.code).toBe(10)
      expect(declined.output).toMatch(/about to scrub 1 message\(s\) from log default[^]*3001\tsecret one[^]*Scrub it for good\? Their payloads are deleted\. \[y\/N\][^]*scrub cancelled: nothing changed/)
      const accepted = await runInTerminal(['--dir', alice, 'scrub', '3001'], { env, input: 'y\n' })
      expect(accepted.code, accepted.output).toBe(0)
      expect(accepted.output).toMatch(/scrubbed 3001: /)
    } else {
      await cli(['--dir', alice, 'scrub', '3001'], { env })
    }
    const yes = JSON.parse(await cli(['--dir', alice, '--json', 'scrub', '--yes', '3002'], { env }))
    expect(yes).toMatchObject({ scrubbed: [3002], publish: { head: expect.stringMatching(/^baf/), revision: 4 } })
    expect(await cli(['--dir', alice, 'read', '--from', '3000', 'log:default'], { env })).toBe('3000\t\\(scrubbed)\n3001\t(scrubbed)\n3002\t(scrubbed)\n')
  })

  it('packs: export --out - to stdout, verify names what a non-pack is, import --restore FILE with the key from a file or the environment', async () => {
    const pack = join(root, 'alice.car')
    const [exported, terminal] = await Promise.all([
      runCliBytes(['--dir', alice, 'export', 'log:default', '--out', '-'], env),
      hasScript ? runInTerminal(['--dir', alice, 'export', 'log:default', '--out', '-'], { env }) : undefined
    ])
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stderr).toMatch(/^wrote standard output: full pack, 3003 messages/)
    await writeFile(pack, exported.stdout)
    if (terminal !== undefined) expect(terminal).toMatchObject({ code: 2, output: expect.stringMatching(/not writing a binary pack to a terminal/) })

    await writeFile(join(root, 'notes.txt'), 'hello, not a pack\n')
    await writeFile(join(root, 'alice.car.gz'), gzipSync(exported.stdout))
    const keyHex = (JSON.parse(await readFile(join(alice, 'keys.json'), 'utf8')) as { logs: Record<string, string> }).logs.default
    await writeFile(join(root, 'alice.key'), keyHex + '\n')
    const phone = join(root, 'phone')
    const tablet = join(root, 'tablet')
    const [ok, text, gz, , ] = await Promise.all([
      runCli(['verify', pack]),
      runCli(['verify', join(root, 'notes.txt')]),
      runCli(['--json', 'verify', join(root, 'alice.car.gz')]),
      cli(['--dir', phone, 'init'], { env: { REMOTELOG_STORE: join(root, 'phone-store') } }),
      cli(['--dir', tablet, 'init'], { env: { REMOTELOG_STORE: join(root, 'tablet-store') } })
    ])
    expect(ok.stdout).toMatch(/^ok: .*alice\.car\n.*length 3003/)
    expectOneLine(text, 7, /notes\.txt is not a remotelog pack \(a CAR file, as `remotelog export` writes\): it holds text, starting "hello, not a pack"/)
    expect(JSON.parse(gz.stdout).error).toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(/gzip-compressed: gunzip it first/) })

    // `--restore FILE`: the file is the pack (not a log named alice.car); the key comes from a file or the environment.
    const [fromFile, fromEnv] = await Promise.all([
      runCli(['--dir', phone, 'import', '--restore', pack, '--key-file', join(root, 'alice.key')], { env: { REMOTELOG_STORE: join(root, 'phone-store') } }),
      runCli(['--dir', tablet, '--json', 'import', '--restore', pack], { env: { REMOTELOG_STORE: join(root, 'tablet-store'), REMOTELOG_KEY: keyHex } })
    ])
    expect(fromFile.code, fromFile.stderr).toBe(0)
    expect(fromFile.stderr).toBe('')
    expect(fromFile.stdout).toMatch(new RegExp(`restored ${address}: length 3003[^]*\nnext: \`remotelog append MESSAGE\` continues ${address} on this device \\(seq 3003 on\\)`))
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ restored: { address, length: 3003 }, head: expect.stringMatching(/^baf/) })
    const warned = await runCli(['--dir', tablet, 'import', pack, '--restore', '--key', keyHex], { env: { REMOTELOG_STORE: join(root, 'tablet-store') } })
    expect(warned.stderr).toMatch(/^remotelog: warning: --key on the command line is visible to other users \(ps\)[^]*use --key-file FILE or REMOTELOG_KEY/)
  })

  it('init --remote checks the URL and that the service answers; the token comes from a file', async () => {
    const healthy = await listen(path => path === '/healthz' ? [200, '{"status":"ok"}'] : [404, '{}'])
    const other = await listen(() => [404, 'no'])
    try {
      await writeFile(join(root, 'token.txt'), 'sekret\n')
      const [bad, closed, answers, notOurs] = await Promise.all([
        runCli(['--dir', join(root, 'r1'), 'init', '--remote', 'localhost:7878']),
        runCli(['--dir', join(root, 'r2'), '--json', 'init', '--remote', 'http://127.0.0.1:9']),
        runCli(['--dir', join(root, 'r3'), 'init', '--remote', `${healthy.url}/`, '--token-file', join(root, 'token.txt')]),
        runCli(['--dir', join(root, 'r4'), 'init', '--remote', other.url])
      ])
      expectOneLine(bad, 2, /--remote "localhost:7878" is not a URL: did you mean http:\/\/localhost:7878\?/)
      await expect(stat(join(root, 'r1'))).rejects.toThrow()
      expect(closed.code).toBe(0) // written: the service may start later
      expect(closed.stderr).toMatch(/^remotelog: warning: the service at http:\/\/127\.0\.0\.1:9 does not answer: cannot connect \(ECONNREFUSED\)/)
      expect(JSON.parse(closed.stdout).remote).toEqual({ url: 'http://127.0.0.1:9', answers: false, problem: 'cannot connect (ECONNREFUSED)' })
      expect(answers).toMatchObject({ code: 0, stderr: '' })
      expect(answers.stdout).toContain(`service: ${healthy.url} answers`)
      expect(JSON.parse(await readFile(join(root, 'r3', 'config.json'), 'utf8')).cas).toMatchObject({ url: healthy.url, token: 'sekret' })
      expect(notOurs.stderr).toMatch(/something answers, but not a remotelog service \(GET \/healthz: HTTP 404\)/)
    } finally {
      healthy.server.close()
      other.server.close()
    }
  })
})
