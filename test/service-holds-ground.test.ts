import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf } from '../core/ids.js'
import { keyPairFromSecret, nameOfPublicKey, signRecord, type Ed25519KeyPair } from '../core/signed-record.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { recordNs } from '../adapters/ns/record-ns.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { startService, type RunningService, type ServiceOptions } from '../service/server.js'
import { cli, runCli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'
import { expectCode } from './conformance/cas.js'

// An anonymous client attacks the remote log service with raw HTTP: what can it make the server store?

interface Owner { keys: Ed25519KeyPair, name: string, secret: Uint8Array }

function owner (): Owner {
  const secret = randomBytes(32)
  const keys = keyPairFromSecret(secret)
  return { keys, name: nameOfPublicKey(keys.publicKey), secret }
}

/** A genuinely signed record of `who`'s name at `revision`. */
function record (who: Owner, revision: number, signer: Ed25519KeyPair = who.keys): Buffer {
  return Buffer.from(signRecord(who.name, revision, encodePointer({ head: cidOf(randomBytes(16)), length: revision, revision }), signer))
}

function varint (n: number): Buffer {
  const bytes: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 128)) bytes.push((n & 0x7f) | 0x80)
  bytes.push(n)
  return Buffer.from(bytes)
}

/**
 * The record padded with an unknown field (number 15, bytes) to exactly `total` bytes. Protobuf
 * readers skip unknown fields and the signature does not cover them: the record stays valid.
 */
function padded (bytes: Buffer, total: number): Buffer {
  for (let n = total - bytes.length - 2; n > 0; n--) {
    const field = Buffer.concat([Buffer.from([0x7a]), varint(n), Buffer.alloc(n, 0x41)])
    if (bytes.length + field.length === total) return Buffer.concat([bytes, field])
  }
  throw new Error(`cannot pad to ${total}`)
}

interface Answer { status: number, code?: string, msg?: string, meta?: Record<string, string>, data?: string }

async function post (url: string, method: 'Update' | 'Fetch', body: object, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}/twirp/vac.ns.NS/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, ...(text === '' ? {} : JSON.parse(text) as object) }
}

async function update (url: string, name: string, content: Uint8Array, headers?: Record<string, string>): Promise<Answer> {
  return await post(url, 'Update', { name, content: Buffer.from(content).toString('base64') }, headers)
}

/** A service over a record store this test can look into: what the server holds is exactly `records`. */
let running: RunningService | undefined
let records: Map<string, Uint8Array>
async function start (options: Partial<ServiceOptions> = {}): Promise<string> {
  records = new Map()
  const ns = recordNs({
    backend: 'inspected',
    scheme: 'inspected',
    storage: {
      async read (name) { return records.get(name) },
      async write (name, bytes) { records.set(name, bytes) }
    }
  })
  running = await startService({ cas: memoryCas(), ns, ...options })
  return running.url
}
afterEach(async () => { await running?.close(); running = undefined })

const stored = (): number => [...records.values()].reduce((sum, r) => sum + r.byteLength, 0)

describe('the service holds its ground against an anonymous client', () => {
  it('refuses an NS record padded past 10 KiB (unknown fields count), and stores nothing of it', async () => {
    const url = await start()
    const mallory = owner()
    const tooBig = padded(record(mallory, 1), 10 * 1024 + 1)
    const refused = await update(url, mallory.name, tooBig)
    expect(refused).toMatchObject({ status: 400, code: 'invalid_argument', meta: { remotelog_code: 'TOO_LARGE' } })
    expect(refused.msg).toContain('10240')
    expect(records.size).toBe(0)
    expect(await post(url, 'Fetch', { name: mallory.name })).toMatchObject({ status: 404, code: 'not_found' })

    // Exactly at the limit is fine; the 1.5 MB update is refused before its body is read whole.
    expect((await update(url, mallory.name, padded(record(mallory, 1), 10 * 1024))).status).toBe(200)
    const huge = await update(url, mallory.name, padded(record(mallory, 2), 1_500_000))
    expect(huge).toMatchObject({ status: 400, code: 'invalid_argument', meta: { remotelog_code: 'TOO_LARGE' } })
    expect(stored()).toBe(10 * 1024)
    // Over protobuf too: the raw record bytes are what is measured.
    const body = Buffer.concat([Buffer.from([0x0a]), varint(mallory.name.length), Buffer.from(mallory.name), Buffer.from([0x12]), varint(10 * 1024 + 1), padded(record(mallory, 3), 10 * 1024 + 1)])
    const protobuf = await fetch(`${url}/twirp/vac.ns.NS/Update`, { method: 'POST', headers: { 'content-type': 'application/protobuf' }, body })
    expect(protobuf.status).toBe(400)
    expect(await protobuf.json()).toMatchObject({ code: 'invalid_argument', meta: { remotelog_code: 'TOO_LARGE' } })
    expect(stored()).toBe(10 * 1024)
  })

  it('refuses names past the total allowed, counting those stored before it started; existing names still update', async () => {
    const url = await start({ nsLimits: { maxNames: 4, newNamesPerMinute: 100 }, countStoredNames: async () => 1 })
    const owners = Array.from({ length: 4 }, owner)
    for (const o of owners.slice(0, 3)) expect((await update(url, o.name, record(o, 1))).status).toBe(200)
    const refused = await update(url, owners[3].name, record(owners[3], 1))
    expect(refused).toMatchObject({ status: 429, code: 'resource_exhausted' })
    expect(refused.msg).toContain('at most 4 names')
    expect(records.size).toBe(3)
    expect(records.has(owners[3].name)).toBe(false)
    expect((await update(url, owners[0].name, record(owners[0], 2))).status).toBe(200)
    expect(records.size).toBe(3)
  })

  it('refuses more new names per minute than allowed from one client, saying when to retry', async () => {
    const url = await start({ nsLimits: { newNamesPerMinute: 3 } })
    const owners = Array.from({ length: 5 }, owner)
    // Concurrently, as an attacker would: no request may slip past the count while others are in flight.
    const answers = await Promise.all(owners.map(async o => await update(url, o.name, record(o, 1))))
    expect(answers.filter(a => a.status === 200)).toHaveLength(3)
    const refused = answers.filter(a => a.status !== 200)
    expect(refused).toHaveLength(2)
    for (const a of refused) {
      expect(a).toMatchObject({ status: 429, code: 'resource_exhausted' })
      expect(Number(a.meta?.retry_after_ms)).toBeGreaterThan(0)
      expect(Number(a.meta?.retry_after_ms)).toBeLessThanOrEqual(20_000)
    }
    expect(records.size).toBe(3)
  })

  it('refuses too many updates per second of one name; forged and stale updates do not use up the owner\'s allowance', async () => {
    const url = await start({ nsLimits: { updatesPerSecond: 1, updateBurst: 2 } })
    const alice = owner()
    expect((await update(url, alice.name, record(alice, 1))).status).toBe(200)
    expect((await update(url, alice.name, record(alice, 2))).status).toBe(200)
    const tooFast = await update(url, alice.name, record(alice, 3))
    expect(tooFast).toMatchObject({ status: 429, code: 'resource_exhausted' })
    expect(Number(tooFast.meta?.retry_after_ms)).toBeGreaterThan(0)
    expect(await twirpNs({ url, retries: 0 }).resolve(alice.name)).toMatchObject({ revision: 2 })

    await sleep(1100) // one update's worth at 1 per second
    // Mallory floods alice's name with what she can make: foreign signatures, replays, rollbacks.
    const mallory = owner()
    const second = records.get(alice.name)!
    const junk = await Promise.all([
      ...Array.from({ length: 10 }, async (_, i) => await update(url, alice.name, record(alice, 10 + i, mallory.keys))),
      ...Array.from({ length: 5 }, async () => await update(url, alice.name, second)),
      ...Array.from({ length: 5 }, async () => await update(url, alice.name, record(alice, 1)))
    ])
    expect(new Set(junk.map(a => a.code))).toEqual(new Set(['permission_denied', 'already_exists', 'failed_precondition']))
    expect((await update(url, alice.name, record(alice, 3))).status).toBe(200)
    expect(await twirpNs({ url, retries: 0 }).resolve(alice.name)).toMatchObject({ revision: 3 })
  })

  it('with the token covering NS: an update without it is unauthenticated and stores nothing; with it, accepted', async () => {
    const url = await start({ writeToken: 'the-token', tokenCoversNs: true })
    const alice = owner()
    expect(await update(url, alice.name, record(alice, 1))).toMatchObject({ status: 401, code: 'unauthenticated' })
    expect(await update(url, alice.name, record(alice, 1), { authorization: 'Bearer wrong-token' })).toMatchObject({ status: 401, code: 'unauthenticated' })
    expect(records.size).toBe(0)
    expect(await post(url, 'Fetch', { name: alice.name })).toMatchObject({ status: 404, code: 'not_found' }) // reads stay open
    expect((await update(url, alice.name, record(alice, 1), { authorization: 'Bearer the-token' })).status).toBe(200)
    expect(await post(url, 'Fetch', { name: alice.name })).toMatchObject({ status: 200 })
    expect(records.size).toBe(1)

    // The twirp NS client sends its token; without one the owner's own publish is refused.
    const bob = owner()
    const head = { head: cidOf(randomBytes(8)), length: 1, revision: 1 }
    await expectCode(twirpNs({ url, retries: 0 }).publish(bob.name, head, { label: 'b', secret: bob.secret }), 'PERMISSION')
    expect(records.has(bob.name)).toBe(false)
    await twirpNs({ url, retries: 0, token: 'the-token' }).publish(bob.name, head, { label: 'b', secret: bob.secret })
    expect(await twirpNs({ url }).resolve(bob.name)).toMatchObject({ revision: 1 })
  })

  it('by default signed NS updates stay open while CAS writes need the token; covering NS without a token is a config error', async () => {
    const url = await start({ writeToken: 'the-token' })
    const alice = owner()
    expect((await update(url, alice.name, record(alice, 1))).status).toBe(200)
    const add = await fetch(`${url}/twirp/vac.cas.CAS/Add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":"aGk="}' })
    expect(add.status).toBe(401)
    await expectCode(start({ tokenCoversNs: true }), 'INVALID_CONFIG')
  })
})

describe('remotelog serve --token T --token-covers-ns', () => {
  it('requires the token for NS updates, and refuses --token-covers-ns without a token', async () => {
    const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))
    const root = await tempDir()
    const env = { REMOTELOG_STORE: join(root, 'store'), REMOTELOG_WRITE_TOKEN: '' }
    const dir = join(root, 'server')
    await cli(['--dir', dir, 'init'], { env })

    const alone = await runCli(['--dir', dir, 'serve', '--port', '0', '--token-covers-ns'], { env })
    expect(alone.code).not.toBe(0)
    expect(alone.stderr).toMatch(/INVALID_CONFIG.*token/)

    const child = spawn(process.execPath, [bin, '--dir', dir, '--json', 'serve', '--port', '0', '--token', 'T', '--token-covers-ns', '--max-names', '5'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const [line] = await once(child.stdout, 'data') as [Buffer]
      const { url } = JSON.parse(line.toString()) as { url: string }
      const alice = owner()
      expect(await update(url, alice.name, record(alice, 1))).toMatchObject({ status: 401, code: 'unauthenticated' })
      expect((await update(url, alice.name, record(alice, 1), { authorization: 'Bearer T' })).status).toBe(200)
    } finally {
      child.kill('SIGTERM')
      await once(child, 'close')
    }
  })
})
