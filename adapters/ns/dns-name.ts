import { fail } from '../../core/errors.js'
import { publicKeyOfName } from '../../core/signed-record.js'

/** A log in DNS: the domain whose `_dnslink` TXT records hold its head, and the key that signs them. */
export interface DnsName {
  /** Lowercase, no trailing dot, e.g. `alice.example.org`. */
  domain: string
  /** The owner's ed25519 public key as a local/twirp name: base32 multibase (`b…`). */
  key: string
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/

/**
 * Checks a domain name (letters, digits, `-`, `_`; labels of 1–63 bytes; at most 253 in all) and
 * returns it lowercase without a trailing dot.
 */
export function checkDomain (domain: string, what = 'domain'): string {
  const d = domain.trim().replace(/\.$/, '').toLowerCase()
  if (d === '' || d.length > 253 || !d.split('.').every(label => LABEL.test(label))) {
    throw fail('INVALID_INPUT', `not a usable DNS ${what}: ${domain}`, { backend: 'dns' })
  }
  return d
}

/**
 * The name of a `dns:` address: `<domain>?key=<base32 public key>`. DNS does not authenticate what
 * it serves, so the address carries the key readers check every record against (a `dns:` URI with
 * a query, in the spirit of RFC 4501).
 * @example formatDnsName({ domain: 'alice.example.org', key: 'b…' }) // 'alice.example.org?key=b…'
 */
export function formatDnsName (name: DnsName): string {
  return `${name.domain}?key=${name.key}`
}

/**
 * Parses the name of a `dns:` address (`alice.example.org?key=b…`); INVALID_INPUT when it is not
 * one, e.g. a bare domain: without the key a reader could not tell the owner's records from forged ones.
 */
export function parseDnsName (name: string): DnsName {
  const match = /^([^?]+)\?key=([a-z2-7]+)$/.exec(name.trim())
  if (match === null) {
    throw fail('INVALID_INPUT', `not a dns log name (<domain>?key=<owner's base32 key>, e.g. dns:alice.example.org?key=b…): ${name}`, { backend: 'dns' })
  }
  publicKeyOfName(match[2])
  return { domain: checkDomain(match[1]), key: match[2] }
}

/** The owner name of a log's TXT records: `_dnslink.<domain>` (dnslink.dev). */
export function dnslinkName (domain: string): string {
  return `_dnslink.${domain}`
}
