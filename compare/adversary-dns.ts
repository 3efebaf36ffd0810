import { randomBytes } from 'node:crypto'
import { fromBinary } from '@bufbuild/protobuf'
import { dnslinkName, parseDnsName } from '../adapters/ns/dns-name.js'
import { signMessage, verifyAnswer, type TsigKey } from '../adapters/ns/dns-tsig.js'
import { headTxt, parseHeadTxt } from '../adapters/ns/dns-txt.js'
import { exchange, parseServer, rcodeOf, txtAnswer, txtQuery, updateMessage, type TxtStrings } from '../adapters/ns/dns-wire.js'
import { decodePointer, encodePointer } from '../core/head-pointer.js'
import type { HeadRecord } from '../core/name-system.js'
import { keyPairFromSecret, signRecord } from '../core/signed-record.js'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import type { NsAdversary } from './adversary.js'
import type { BackendAnswer } from './metrics.js'

export interface DnsAdversaryOptions {
  /** The zone's primary server, `host:port`. */
  server: string
  zone: string
  /** The zone's TSIG key: whoever holds it may write any TXT record the server's policy allows. */
  tsig: TsigKey
  /** The log's name (`<domain>?key=<b…>`). */
  name: string
  timeoutMs?: number
}

/**
 * The raw attacker of the dns name system: it holds the zone's TSIG key and sends its own RFC 2136
 * updates (no prerequisite, none of our client's checks), as anyone the key leaked to could. The
 * server checks the key, not what the records say, so these land; what stops them is every
 * reader's check of the signed record against the key in the address.
 * @example const eve = dnsAdversary({ server: devnet.dns.server, zone: devnet.dns.zone, tsig: devnet.dns.tsig, name })
 */
export function dnsAdversary (options: DnsAdversaryOptions): NsAdversary {
  const server = parseServer(options.server)
  const { domain, key } = parseDnsName(options.name)
  const owner = dnslinkName(domain)
  const timeoutMs = options.timeoutMs ?? 10_000
  let remembered: TxtStrings[] | undefined
  let before: TxtStrings[] | undefined

  const read = async (): Promise<TxtStrings[] | undefined> => txtAnswer(await exchange(server, txtQuery(owner), { timeoutMs }), owner)
  /** Replaces the whole TXT RRset (none: deletes it) with one signed update; what the server answered. */
  const replace = async (records: TxtStrings[]): Promise<string> => {
    const update = signMessage(updateMessage({ zone: options.zone, name: owner, replace: records, ttl: 60 }), options.tsig)
    const answer = await exchange(server, update.bytes, { timeoutMs })
    verifyAnswer(answer, update.mac, options.tsig)
    return rcodeOf(answer)
  }
  const write = async (records: TxtStrings[], what: string): Promise<BackendAnswer> => {
    before = await read()
    const rcode = await replace(records)
    return { accepted: rcode === 'NOERROR', summary: `${what}, sent as an RFC 2136 update signed with the zone's TSIG key: ${rcode}${rcode === 'NOERROR' ? ' (the server checks the key, not the records)' : ''}` }
  }

  return {
    backend: 'dns',

    async remember () {
      remembered = await read()
    },

    async foreignWrite (forged: HeadRecord) {
      const mallory = keyPairFromSecret(randomBytes(32))
      return await write(headTxt(forged.head, signRecord(key, forged.revision, encodePointer(forged), mallory)), `TXT records signed by another key (revision ${forged.revision})`)
    },

    async rollback () {
      if (remembered === undefined) throw new Error('dnsAdversary.rollback: nothing remembered (call remember() after the first publish)')
      return await write(remembered, 'the owner\'s own older TXT records put back')
    },

    async head () {
      const records = await read()
      if (records === undefined) return undefined
      const { dnslinks, records: signed } = parseHeadTxt(records, owner)
      if (signed.length > 0) return decodePointer(fromBinary(SignedRecordSchema, signed[0]).value).head.toString()
      return dnslinks[0]?.replace(/^\/ipfs\//, '')
    },

    async restore () {
      if (before === undefined) return
      const rcode = await replace(before)
      if (rcode !== 'NOERROR') throw new Error(`dnsAdversary.restore: the server answered ${rcode}`)
    },

    async close () {}
  }
}
