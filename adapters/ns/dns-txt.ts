import type { CID } from 'multiformats/cid'
import { fail } from '../../core/errors.js'
import type { TxtStrings } from './dns-wire.js'

/** The standard DNSLink value prefix (dnslink.dev): `dnslink=/ipfs/<cid>`. */
export const DNSLINK_PREFIX = 'dnslink='
/** Our signed head record's prefix: `remotelog-record=<base64 of vac.remotelog.SignedRecord>`. */
export const RECORD_PREFIX = 'remotelog-record='
/** A TXT character string holds at most 255 bytes (RFC 1035 §3.3). */
const STRING_BYTES = 255

/**
 * The TXT records a log's head is published as at `_dnslink.<domain>`: the standard DNSLink
 * `dnslink=/ipfs/<head CID>`, which any DNSLink client follows, and our signed head record (head,
 * length, revision, ed25519 signature), base64 split across as many character strings of one TXT
 * record as it needs (readers join a record's strings, as RFC 7208 §3.3 does).
 * @example headTxt(head, signRecord(key, 3, encodePointer(record), keys)) // [[dnslink…], [remotelog-record=…, …]]
 */
export function headTxt (head: CID, signedRecord: Uint8Array): TxtStrings[] {
  const text = RECORD_PREFIX + Buffer.from(signedRecord).toString('base64')
  const strings: Buffer[] = []
  for (let at = 0; at < text.length; at += STRING_BYTES) strings.push(Buffer.from(text.slice(at, at + STRING_BYTES), 'ascii'))
  return [[Buffer.from(`${DNSLINK_PREFIX}/ipfs/${head.toString()}`, 'ascii')], strings]
}

/** What a TXT RRset at `_dnslink.<domain>` says. */
export interface HeadTxt {
  /** Every `dnslink=` value (without the prefix), e.g. `/ipfs/bafkrei…`. */
  dnslinks: string[]
  /** Every signed head record, decoded from base64 (not yet verified). */
  records: Uint8Array[]
}

/**
 * Reads the TXT records of `_dnslink.<domain>` (each as its character strings, as Node's resolver
 * or a DNS message gives them); TXT records of other kinds are left alone.
 */
export function parseHeadTxt (records: Array<Array<string | Uint8Array>>, where: string): HeadTxt {
  const result: HeadTxt = { dnslinks: [], records: [] }
  for (const strings of records) {
    const text = strings.map(s => typeof s === 'string' ? s : Buffer.from(s).toString('latin1')).join('')
    if (text.startsWith(DNSLINK_PREFIX)) {
      result.dnslinks.push(text.slice(DNSLINK_PREFIX.length))
    } else if (text.startsWith(RECORD_PREFIX)) {
      const base64 = text.slice(RECORD_PREFIX.length)
      const bytes = Buffer.from(base64, 'base64')
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || bytes.toString('base64') !== base64) {
        throw fail('MALFORMED', `the remotelog record at ${where} is not base64`, { backend: 'dns' })
      }
      result.records.push(new Uint8Array(bytes))
    }
  }
  return result
}
