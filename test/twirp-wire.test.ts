import { createHash, randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf } from '../core/ids.js'
import { keyPairFromSecret, nameOfPublicKey, signRecord } from '../core/signed-record.js'
import { tempDir } from './support/temp-dir.js'

// Wire compatibility without our client: plain fetch, bodies written from the Twirp spec and the
// .proto files (protobuf encoded by hand below), as any Twirp client in any language would send.

const service = await startRemoteLogService({ dir: await tempDir() })
afterAll(async () => { await service.stop() })

interface Answer { status: number, type: string | null, bytes: Buffer, text: string }

async function post (route: string, contentType: string, body: string | Uint8Array, headers: Record<string, string> = {}, url = service.url): Promise<Answer> {
  const response = await fetch(`${url}/twirp/${route}`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body })
  const bytes = Buffer.from(await response.arrayBuffer())
  return { status: response.status, type: response.headers.get('content-type'), bytes, text: bytes.toString() }
}

// --- protobuf by hand: every field here is wire type 2 (length-delimited) ---
function varint (n: number): number[] {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return out
}
function field (number: number, value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value)
  return Buffer.concat([Buffer.from([(number << 3) | 2, ...varint(bytes.length)]), bytes])
}
function readField (message: Buffer, number: number): Buffer | undefined {
  let at = 0
  while (at < message.length) {
    const tag = message[at++]
    let length = 0
    for (let shift = 0; ; shift += 7) {
      const b = message[at++]
      length += (b & 0x7f) * 2 ** shift
      if (b < 0x80) break
    }
    if (tag === ((number << 3) | 2)) return message.subarray(at, at + length)
    at += length
  }
  return undefined
}

/** A CIDv1 raw sha2-256 in binary, from its definition: version, codec, multihash code, digest length, digest. */
function binaryCid (bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), createHash('sha256').update(bytes).digest()])
}

function signedUpdate (revision: number): { name: string, record: Uint8Array } {
  const keys = keyPairFromSecret(randomBytes(32))
  const name = nameOfPublicKey(keys.publicKey)
  const value = encodePointer({ head: cidOf(randomBytes(8)), length: 3, revision })
  return { name, record: signRecord(name, revision, value, keys) }
}

describe('Twirp wire format without our client', () => {
  it('adds and gets content with JSON bodies (proto3 JSON, bytes as base64)', async () => {
    const data = randomBytes(300)
    const added = await post('vac.cas.CAS/Add', 'application/json', JSON.stringify({ data: data.toString('base64') }))
    expect(added.status).toBe(200)
    expect(added.type).toBe('application/json')
    expect(JSON.parse(added.text)).toEqual({ id: binaryCid(data).toString('base64') })

    const got = await post('vac.cas.CAS/Get', 'application/json', JSON.stringify({ id: binaryCid(data).toString('base64') }))
    expect(got.status).toBe(200)
    expect(Buffer.from(JSON.parse(got.text).data, 'base64').equals(data)).toBe(true)
  })

  it('accepts application/json; charset=utf-8 and ignores unknown fields', async () => {
    const data = Buffer.from('with charset')
    const added = await post('vac.cas.CAS/Add', 'application/json; charset=utf-8', JSON.stringify({ data: data.toString('base64'), extra: 1 }))
    expect(added.status).toBe(200)
    expect(JSON.parse(added.text).id).toBe(binaryCid(data).toString('base64'))
  })

  it('emits zero values in JSON, as Twirp\'s Go server does', async () => {
    const added = await post('vac.cas.CAS/Add', 'application/json', '{}')
    expect(added.status).toBe(200)
    const got = await post('vac.cas.CAS/Get', 'application/json', added.text)
    expect(JSON.parse(got.text)).toEqual({ data: '' })
  })

  it('adds and gets content with protobuf bodies', async () => {
    const data = randomBytes(2000)
    const added = await post('vac.cas.CAS/Add', 'application/protobuf', field(1, data))
    expect(added.status).toBe(200)
    expect(added.type).toBe('application/protobuf')
    expect(added.bytes.equals(field(1, binaryCid(data)))).toBe(true)

    const got = await post('vac.cas.CAS/Get', 'application/protobuf', field(1, binaryCid(data)))
    expect(got.status).toBe(200)
    expect(readField(got.bytes, 1)?.equals(data)).toBe(true)
  })

  it('updates and fetches a name, protobuf and JSON', async () => {
    const { name, record } = signedUpdate(1)
    const updated = await post('vac.ns.NS/Update', 'application/protobuf', Buffer.concat([field(1, name), field(2, record)]))
    expect(updated.status).toBe(200)
    expect(updated.bytes.length).toBe(0) // an empty vac.ns.Response

    const json = await post('vac.ns.NS/Fetch', 'application/json', JSON.stringify({ name }))
    expect(json.status).toBe(200)
    expect(Buffer.from(JSON.parse(json.text).data, 'base64').equals(record)).toBe(true)

    const pb = await post('vac.ns.NS/Fetch', 'application/protobuf', field(1, name))
    expect(readField(pb.bytes, 1)?.equals(record)).toBe(true)
  })

  it('updates a name with a JSON body, answering the empty Response with its zero value', async () => {
    const { name, record } = signedUpdate(1)
    const updated = await post('vac.ns.NS/Update', 'application/json', JSON.stringify({ name, content: Buffer.from(record).toString('base64') }))
    expect(updated.status).toBe(200)
    expect(JSON.parse(updated.text)).toEqual({ data: '' })
  })

  const missing = binaryCid(randomBytes(8)).toString('base64')
  const errorCases: Array<[string, string, string, string | Uint8Array, number, string]> = [
    ['Get of a missing object', 'vac.cas.CAS/Get', 'application/json', JSON.stringify({ id: missing }), 404, 'not_found'],
    ['Fetch of an unknown name', 'vac.ns.NS/Fetch', 'application/json', JSON.stringify({ name: signedUpdate(1).name }), 404, 'not_found'],
    ['an unknown method', 'vac.cas.CAS/Delete', 'application/json', '{}', 404, 'bad_route'],
    ['an unknown service', 'vac.other.Svc/Get', 'application/json', '{}', 404, 'bad_route'],
    ['a Content-Type Twirp does not speak', 'vac.cas.CAS/Get', 'text/plain', 'hello', 404, 'bad_route'],
    ['Connect\'s application/proto', 'vac.cas.CAS/Get', 'application/proto', field(1, binaryCid(Buffer.from('x'))), 404, 'bad_route'],
    ['an undecodable protobuf body', 'vac.cas.CAS/Get', 'application/protobuf', Buffer.from([0x0a, 0xff, 0xff]), 400, 'malformed'],
    ['a body that is not JSON', 'vac.cas.CAS/Add', 'application/json', '{"data": ', 400, 'malformed'],
    ['JSON with a wrongly typed field', 'vac.cas.CAS/Add', 'application/json', '{"data": 12}', 400, 'malformed'],
    ['an id that is not a CID', 'vac.cas.CAS/Get', 'application/json', JSON.stringify({ id: 'AAAA' }), 400, 'invalid_argument'],
    ['a name that is not a key', 'vac.ns.NS/Fetch', 'application/json', JSON.stringify({ name: '../../etc/passwd' }), 400, 'invalid_argument']
  ]
  it.each(errorCases)('answers %s with Twirp\'s error JSON', async (_what, route, type, body, status, code) => {
    const answer = await post(route, type, body)
    expect(answer.status).toBe(status)
    expect(answer.type).toBe('application/json')
    const error = JSON.parse(answer.text)
    expect(error.code).toBe(code)
    expect(typeof error.msg).toBe('string')
    expect(Object.keys(error).every(k => ['code', 'msg', 'meta'].includes(k))).toBe(true)
    if (error.meta !== undefined) expect(Object.values(error.meta).every(v => typeof v === 'string')).toBe(true)
  })

  it('answers a GET on a route with bad_route', async () => {
    const response = await fetch(`${service.url}/twirp/vac.cas.CAS/Get`)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { code: string }).code).toBe('bad_route')
  })

  it('serves /healthz', async () => {
    const response = await fetch(`${service.url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })

  it('requires the bearer token for CAS writes when configured; reads stay open', async () => {
    const guarded = await startRemoteLogService({ dir: await tempDir(), writeToken: 's3cret-token' })
    try {
      const body = JSON.stringify({ data: Buffer.from('guarded').toString('base64') })
      const anonymous = await post('vac.cas.CAS/Add', 'application/json', body, {}, guarded.url)
      expect(anonymous.status).toBe(401)
      expect(JSON.parse(anonymous.text).code).toBe('unauthenticated')
      const wrong = await post('vac.cas.CAS/Add', 'application/json', body, { authorization: 'Bearer s3cret-tokeN' }, guarded.url)
      expect(wrong.status).toBe(401)
      const allowed = await post('vac.cas.CAS/Add', 'application/json', body, { authorization: 'Bearer s3cret-token' }, guarded.url)
      expect(allowed.status).toBe(200)
      const read = await post('vac.cas.CAS/Get', 'application/json', allowed.text, {}, guarded.url)
      expect(read.status).toBe(200)
      expect(Buffer.from(JSON.parse(read.text).data, 'base64').toString()).toBe('guarded')
    } finally {
      await guarded.stop()
    }
  })
})
