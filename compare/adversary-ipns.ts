import { randomBytes } from 'node:crypto'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { createIPNSRecord, marshalIPNSRecord, unmarshalIPNSRecord } from 'ipns'
import type { HeadRecord } from '../core/name-system.js'
import type { NsAdversary } from './adversary.js'
import type { BackendAnswer } from './metrics.js'

export interface IpnsAdversaryOptions {
  /** The IPNS routing's delegated routing V1 HTTP API (the devnet hub's `routingUrl`). */
  routingUrl: string
  /** The log's name (`k51…`). */
  name: string
  timeoutMs?: number
}

const RECORD_TYPE = 'application/vnd.ipfs.ipns-record'

/**
 * The raw attacker of the ipns name system: records made with the `ipns` package and sent with
 * `fetch` straight to the routing's HTTP API (`PUT /routing/v1/ipns/<name>`), no remotelog client:
 * a record for the name signed by another key, and a replay of the owner's own older record (what
 * any DHT peer or relay that saw it could send).
 * @example const mallory = ipnsAdversary({ routingUrl: devnet.ipns.routingUrl, name })
 */
export function ipnsAdversary (options: IpnsAdversaryOptions): NsAdversary {
  const resource = `${options.routingUrl.replace(/\/+$/, '')}/routing/v1/ipns/${options.name}`
  const signal = (): AbortSignal => AbortSignal.timeout(options.timeoutMs ?? 10_000)
  let remembered: Uint8Array | undefined
  let before: Uint8Array | undefined

  async function read (): Promise<Uint8Array | undefined> {
    const response = await fetch(resource, { headers: { accept: RECORD_TYPE }, signal: signal() })
    const body = new Uint8Array(await response.arrayBuffer())
    if (!response.ok || response.headers.get('content-type')?.includes(RECORD_TYPE) !== true) return undefined
    return body
  }

  async function put (record: Uint8Array, what: string): Promise<BackendAnswer> {
    before = await read()
    const response = await fetch(resource, { method: 'PUT', headers: { 'content-type': RECORD_TYPE }, body: Buffer.from(record), signal: signal() })
    const text = (await response.text()).slice(0, 160)
    return { accepted: response.ok, status: response.status, summary: `${what}, PUT raw to the routing's HTTP API → HTTP ${response.status}${text !== '' ? ` ${text}` : ''}` }
  }

  return {
    backend: 'ipns',

    async remember () {
      remembered = await read()
    },

    async foreignWrite (forged: HeadRecord) {
      const mallory = await generateKeyPairFromSeed('Ed25519', randomBytes(32))
      const record = await createIPNSRecord(mallory, `/ipfs/${forged.head.toString()}`, BigInt(forged.revision), 3600_000)
      return await put(marshalIPNSRecord(record), `an IPNS record for the name signed by another key (sequence ${forged.revision})`)
    },

    async rollback () {
      if (remembered === undefined) throw new Error('ipnsAdversary.rollback: nothing remembered (call remember() after the first publish)')
      return await put(remembered, `the owner's own older IPNS record replayed (sequence ${unmarshalIPNSRecord(remembered).sequence})`)
    },

    async head () {
      const record = await read()
      return record === undefined ? undefined : unmarshalIPNSRecord(record).value.replace(/^\/ipfs\//, '')
    },

    async restore () {
      if (before === undefined) return
      const response = await fetch(resource, { method: 'PUT', headers: { 'content-type': RECORD_TYPE }, body: Buffer.from(before), signal: signal() })
      await response.arrayBuffer()
    },

    async close () {}
  }
}
