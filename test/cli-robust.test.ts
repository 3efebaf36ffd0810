import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cli, runCli, type CliResult } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'
import { escapeText } from '../cli/text.js'

const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** One initialised state dir on its own embedded store. */
async function endpoint (): Promise<{ env: Record<string, string>, dir: string, root: string }> {
  const root = await tempDir()
  const env = { REMOTELOG_STORE: join(root, 'store') }
  const dir = join(root, 'me')
  await cli(['--dir', dir, 'init'], { env })
  return { env, dir, root }
}

/** A failure as the CLI contract says: this exit status, one line on stderr, nothing else. */
function expectOneLine (r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code)
  expect(r.stderr.split('\n')).toHaveLength(2) // one line, then the final newline
  expect(r.stderr).toMatch(/^remotelog: /)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/Usage:|\n {4}at /)
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('escapeText: one message, one line, nothing for the terminal to act on', () => {
  it('escapes control characters, backslashes, invalid UTF-8, separators and bidi controls', () => {
    expect(escapeText(bytes('plain text: ok'))).toBe('plain text: ok')
    expect(escapeText(bytes('a\tb\nc\r'))).toBe('a\\tb\\nc\\r')
    expect(escapeText(bytes('\x1b[2J\x00\x7f'))).toBe('\\x1b[2J\\x00\\x7f')
    expect(escapeText(bytes('C:\\dir'))).toBe('C:\\\\dir')
    expect(escapeText(bytes('x\u0085y\u2028z\u2029'))).toBe('x\\u0085y\\u2028z\\u2029')
    expect(escapeText(bytes('abc\u202edef\u2066\u200f'))).toBe('abc\\u202edef\\u2066\\u200f')
    expect(escapeText(new Uint8Array([0x61, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]))).toBe('a\\xff\\xc3(\\xed\\xa0\\x80')
    expect(escapeText(bytes('héllo wörld ✓ 😀'))).toBe('héllo wörld ✓ 😀')
    // Text never starts with "(", so "(scrubbed)" is only ever a tombstone.
    expect(escapeText(bytes('(scrubbed)'))).toBe('\\(scrubbed)')
    expect(escapeText(bytes('a (b)'))).toBe('a (b)')
    expect(escapeText(new Uint8Array(0))).toBe('')
  })
})

describe('read prints safely, and raw bytes only when asked', () => {
  it('escapes text, tells tombstones apart, keeps bytes exact in --json and --raw', async () => {
    const { env, dir } = await endpoint()
    const messages = ['a\tb', 'line1\nline2', '\x1b[2Jcleared', 'back\\slash', '(scrubbed)', 'rtl \u202e gnp.exe', 'gone', 'last']
    await cli(['--dir', dir, 'append', ...messages], { env })
    await cli(['--dir', dir, 'scrub', '6'], { env })

    const text = await cli(['--dir', dir, 'read', 'log:default'], { env })
    expect(text).toBe([
      '0\ta\\tb', '1\tline1\\nline2', '2\t\\x1b[2Jcleared', '3\tback\\\\slash', '4\t\\(scrubbed)',
      '5\trtl \\u202e gnp.exe', '6\t(scrubbed)', '7\tlast', ''
    ].join('\n'))

    const json = (await cli(['--dir', dir, '--json', 'read', 'log:default'], { env })).trim().split('\n').map(l => JSON.parse(l))
    expect(json).toHaveLength(8)
    expect(json[1]).toMatchObject({ seq: 1, tombstone: false, payload: Buffer.from('line1\nline2').toString('base64') })
    expect(json[4]).toMatchObject({ seq: 4, tombstone: false, text: '(scrubbed)' })
    expect(json[6]).toMatchObject({ seq: 6, tombstone: true, payload: null, text: null })

    const raw = await cli(['--dir', dir, 'read', '--raw', '--from', '1', 'log:default'], { env })
    expect(raw).toBe(['line1\nline2', '\x1b[2Jcleared', 'back\\slash', '(scrubbed)', 'rtl \u202e gnp.exe', 'last', ''].join('\n'))

    expectOneLine(await runCli(['--dir', dir, '--json', 'read', '--raw', 'log:default'], { env }), 2, /--raw and --json/)
    expect(await cli(['read', '--help'])).toMatch(/--raw/)
  })

  it('`read | head -1` exits 0 quietly when the reader goes away (EPIPE)', async () => {
    const { env, dir, root } = await endpoint()
    const file = join(root, 'lines.txt')
    await writeFile(file, Array.from({ length: 20_000 }, (_, i) => `message number ${i}`).join('\n') + '\n')
    await cli(['--dir', dir, 'append', '--file', file], { env })

    const child = spawn(process.execPath, [bin, '--dir', dir, 'read', 'log:default'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const first = await new Promise<string>(resolve => child.stdout.once('data', (d: Buffer) => resolve(d.toString())))
    child.stdout.destroy() // like `head -1` exiting after its line
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => resolve([c, s])))
    expect(first.split('\n')[0]).toBe('0\tmessage number 0')
    expect(stderr).toBe('')
    expect(signal).toBeNull()
    expect(code).toBe(0)
  })
})

describe('append --file: text lines, or exact bytes with --whole', () => {
  it('refuses a file that is not UTF-8 (exit 2, nothing appended) unless --whole, which keeps its bytes', async () => {
    const { env, dir, root } = await endpoint()
    const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x0a, 0x41])
    const file = join(root, 'image.png')
    await writeFile(file, binary)

    expectOneLine(await runCli(['--dir', dir, 'append', '--file', file], { env }), 2, /not UTF-8 text.*--whole/)
    expect(await cli(['--dir', dir, 'read', 'log:default'], { env }).catch(() => '')).toBe('')

    const appended = JSON.parse(await cli(['--dir', dir, '--json', 'append', '--file', file, '--whole'], { env }))
    expect(appended).toMatchObject({ appended: 1, first: 0, last: 0, published: true })
    const [message] = (await cli(['--dir', dir, '--json', 'read', 'log:default'], { env })).trim().split('\n').map(l => JSON.parse(l))
    expect(Buffer.from(message.payload, 'base64')).toEqual(binary)
    expect(await cli(['--dir', dir, 'read', 'log:default'], { env })).toBe('0\t\\x89PNG\\r\\n\\x1a\\n\\x00\\xff\\xfe\\nA\n')

    expectOneLine(await runCli(['--dir', dir, 'append', '--whole', 'x'], { env }), 2, /--whole goes with --file or --stdin/)
    expectOneLine(await runCli(['--dir', dir, 'append', '--file', join(root, 'missing.txt')], { env }), 4, /cannot read .*missing\.txt/)
  })

  it('appends a 130,000-line file (CRLF lines too), one message per line', async () => {
    const { env, dir, root } = await endpoint()
    const file = join(root, 'big.txt')
    await writeFile(file, Array.from({ length: 130_000 }, (_, i) => `line ${i}`).join('\r\n') + '\r\n')
    const appended = JSON.parse(await cli(['--dir', dir, '--json', 'append', '--file', file], { env }))
    expect(appended).toMatchObject({ appended: 130_000, first: 0, last: 129_999, published: true, length: 130_000 })
    expect(await cli(['--dir', dir, 'read', '--from', '129998', 'log:default'], { env })).toBe('129998\tline 129998\n129999\tline 129999\n')
  })
})

describe('a publish that fails keeps the messages, and says so', () => {
  it('append and publish with the backend down: exit 9, "saved" on stderr and in --json', async () => {
    const root = await tempDir()
    const dir = join(root, 'me')
    await cli(['--dir', dir, 'init', '--remote', `http://127.0.0.1:${await closedPort()}`])

    const first = await runCli(['--dir', dir, 'append', 'a', 'b', 'c'])
    expectOneLine(first, 9, /^remotelog: saved 3 message\(s\) \(seq 0–2\) in the journal; the publish failed: .*UNAVAILABLE.*; they go out with the next `remotelog publish` or append$/m)

    const second = await runCli(['--dir', dir, '--json', 'append', 'd'])
    expect(second.code).toBe(9)
    expect(JSON.parse(second.stdout).error).toMatchObject({ code: 'UNAVAILABLE', saved: { log: 'default', messages: 1, first: 3, last: 3 } })

    const publish = await runCli(['--dir', dir, '--json', 'publish'])
    expect(publish.code).toBe(9)
    expect(JSON.parse(publish.stdout).error).toMatchObject({ code: 'UNAVAILABLE', saved: { messages: 4, first: 0, last: 3 } })
    expect(publish.stderr).toMatch(/the publish failed: .*; 4 message\(s\) \(seq 0–3\) remain saved in the journal/)
  })
})

describe('bad config and bad arguments: the documented status and one line', () => {
  it('refuses a config.json that is not a config (exit 3), naming the file and the field', async () => {
    const { env, dir } = await endpoint()
    const config = join(dir, 'config.json')
    const cases: Array<[string, RegExp]> = [
      ['null', /config\.json: the config must be a JSON object, not null/],
      ['[]', /config\.json: the config must be a JSON object, not an array/],
      ['{"cas":{"driver":"local"},"ns":{"driver":"local","path":"n"}}', /config\.json: cas\.path is missing/],
      ['{"cas":{"driver":"floppy","path":"b"},"ns":{"driver":"local","path":"n"}}', /config\.json: cas\.driver "floppy" is not a known CAS driver/],
      ['{"cas":{"driver":"local","path":"b"}}', /config\.json: ns is missing/],
      ['{"cas":{"driver":"local","path":"b"},"ns":{"driver":"local","path":"n"},"resolvers":{"ens":{"driver":"ens"}}}', /config\.json: resolvers\.ens\.rpcUrl is missing/],
      ['{"cas":', /config\.json is not valid JSON/]
    ]
    for (const [text, pattern] of cases) {
      await writeFile(config, text)
      expectOneLine(await runCli(['--dir', dir, 'status'], { env }), 3, pattern)
    }
    const json = await runCli(['--dir', dir, '--json', 'read', 'log:default'], { env })
    expect(json.code).toBe(3)
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'INVALID_CONFIG', message: expect.stringMatching(/not valid JSON/) } })
  })

  it('refuses bad arguments with exit 2, one line and a pointer to the help', async () => {
    const { env, dir } = await endpoint()
    const [negative, word, unknown, missing, command, file] = await Promise.all([
      runCli(['--dir', dir, 'read', '--from', '-1', 'log:default'], { env }),
      runCli(['--dir', dir, 'read', '--from', 'abc', 'log:default'], { env }),
      runCli(['--dir', dir, 'read', '--bogus', 'log:default'], { env }),
      runCli(['--dir', dir, 'read'], { env }),
      runCli(['--dir', dir, 'frobnicate'], { env }),
      runCli(['--dir', join(dir, 'config.json'), 'status'], { env })
    ])
    expectOneLine(negative, 2, /'-1' is invalid.*\(see remotelog read --help\)$/m)
    expectOneLine(word, 2, /'abc' is invalid.*\(see remotelog read --help\)$/m)
    expectOneLine(unknown, 2, /unknown option '--bogus' \(see remotelog read --help\)$/m)
    expectOneLine(missing, 2, /missing required argument 'alias'/)
    expectOneLine(command, 2, /unknown command 'frobnicate' \(see remotelog --help\)$/m)
    expectOneLine(file, 2, /state dir .*config\.json is not a folder/)

    const json = await runCli(['--dir', dir, 'read', '--bogus', '--json', 'log:default'], { env })
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'INVALID_INPUT', message: "unknown option '--bogus' (see remotelog read --help)" } })
  })
})

describe('init', () => {
  it('refuses memory backends (exit 3) and does not offer them', async () => {
    const root = await tempDir()
    const [cas, ns] = await Promise.all([
      runCli(['--dir', join(root, 'a'), 'init', '--cas', 'memory']),
      runCli(['--dir', join(root, 'b'), '--json', 'init', '--ns', 'memory'])
    ])
    expectOneLine(cas, 3, /memory backends live only as long as one process/)
    expect(JSON.parse(ns.stdout).error.code).toBe('INVALID_CONFIG')
    await expect(stat(join(root, 'a', 'config.json'))).rejects.toThrow()
    expect(await cli(['init', '--help'])).not.toMatch(/memory/)
  })

  it('creates the state dir 0700 and config.json (which may hold a token) 0600', async () => {
    const root = await tempDir()
    const dir = join(root, 'nested', 'me')
    await cli(['--dir', dir, 'init', '--remote', 'http://127.0.0.1:7878', '--token', 'sekret'])
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'config.json'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'keys.json'))).mode & 0o777).toBe(0o600)
  })
})
