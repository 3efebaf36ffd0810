import { randomBytes } from 'node:crypto'
import { fromBinary } from '@bufbuild/protobuf'
import { decodePointer, encodePointer } from '../core/head-pointer.js'
import type { HeadRecord } from '../core/name-system.js'
import { keyPairFromSecret, signRecord } from '../core/signed-record.js'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import type { NsAdversary } from './adversary.js'
import type { BackendAnswer } from './metrics.js'

export interface TwirpAdversaryOptions {
  /** The remote log service's base URL (routes under `/twirp/`). */
  url: string
  name: string
  timeoutMs?: number
}

interface Answer { status: number, body: Record<string, unknown> }

/**
 * The raw attacker of the remote log service: hand-made Twirp JSON requests with `fetch` (no
 * remotelog client): `POST /twirp/vac.ns.NS/Update` with a record signed by another key, and a
 * replay of the owner's older signed record captured with a raw `Fetch`.
 * @example const mallory = twirpAdversary({ url: 'http://127.0.0.1:7878', name })
 */
export function twirpAdversary (options: TwirpAdversaryOptions): NsAdversary {
  const base = options.url.replace(/\/+$/, '')
  let remembered: Uint8Array | undefined

  async function call (method: 'Update' | 'Fetch', body: Record<string, string>): Promise<Answer> {
    const response = await fetch(`${base}/twirp/vac.ns.NS/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000)
    })
    const text = await response.text()
    let parsed: Record<string, unknown> = {}
    try { parsed = JSON.parse(text) as Record<string, unknown> } catch { parsed = { raw: text.slice(0, 200) } }
    return { status: response.status, body: parsed }
  }

  async function fetchRecord (): Promise<Uint8Array | undefined> {
    const answer = await call('Fetch', { name: options.name })
    if (answer.status === 404) return undefined
    if (answer.status !== 200 || typeof answer.body.data !== 'string') throw new Error(`raw Fetch of ${options.name}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`)
    return new Uint8Array(Buffer.from(answer.body.data, 'base64'))
  }

  async function update (record: Uint8Array, what: string): Promise<BackendAnswer> {
    const answer = await call('Update', { name: options.name, content: Buffer.from(record).toString('base64') })
    const twirpCode = typeof answer.body.code === 'string' ? answer.body.code : undefined
    const msg = typeof answer.body.msg === 'string' ? `: ${answer.body.msg}` : ''
    const accepted = answer.status === 200
    return {
      accepted,
      status: answer.status,
      twirpCode,
      summary: `raw Twirp Update with ${what} → HTTP ${answer.status}${twirpCode !== undefined ? ` ${twirpCode}` : ''}${msg}`
    }
  }

  return {
    backend: 'twirp',

    async remember () {
      remembered = await fetchRecord()
    },

    async foreignWrite (forged: HeadRecord) {
      const mallory = keyPairFromSecret(randomBytes(32))
      return await update(signRecord(options.name, forged.revision, encodePointer(forged), mallory), `a record signed by another key (revision ${forged.revision})`)
    },

    async rollback () {
      if (remembered === undefined) throw new Error('twirpAdversary.rollback: nothing remembered (call remember() after the first publish)')
      const sequence = Number(fromBinary(SignedRecordSchema, remembered).sequence)
      return await update(remembered, `the owner's own older signed record replayed (sequence ${sequence})`)
    },

    async head () {
      const bytes = await fetchRecord()
      return bytes === undefined ? undefined : decodePointer(fromBinary(SignedRecordSchema, bytes).value).head.toString()
    },

    // The service only ever stores newer records: nothing an accepted attack stored can be undone from outside.
    async restore () {},

    async close () {}
  }
}
