import { base32, base32z } from 'multiformats/bases/base32'
import { fail } from './errors.js'

/** A log address: the NS backend's scheme and the name in it, e.g. `ens:alice.eth`. */
export interface LogAddress {
  scheme: string
  name: string
}

/**
 * Writes a log address as text: `scheme:name`.
 * @example formatAddress({ scheme: 'local', name }) // local:b…
 */
export function formatAddress (address: LogAddress): string {
  return `${address.scheme}:${address.name}`
}

/** Parses `scheme:name`; INVALID_INPUT when it is not one. */
export function parseAddress (text: string): LogAddress {
  const match = /^([a-z][a-z0-9+.-]*):(.+)$/.exec(text.trim())
  if (match === null) throw fail('INVALID_INPUT', `not a log address (scheme:name, e.g. local:b…, ens:alice.eth): ${text}`)
  return { scheme: match[1], name: match[2] }
}

/**
 * How each scheme's names are written; undefined when `name` is one, else why not. The schemes are
 * those of the name-system drivers in adapters/registry.ts (each driver's scheme is its name; keep
 * the two lists in step).
 */
const nameChecks: Record<string, (name: string) => string | undefined> = {
  local: name => ed25519Name('a local name', name),
  twirp: name => ed25519Name('a twirp name', name),
  ens: name => {
    const parts = name.split('.')
    if (parts.length !== 2 || parts[1] !== 'eth' || parts[0] === '') return 'an ens name is <label>.eth, e.g. ens:alice.eth'
    if (name !== name.toLowerCase()) return `ENS names are lower case: ens:${name.toLowerCase()}`
    return undefined
  },
  // `<domain>?key=b…`: DNS does not authenticate what it serves, so the address carries the owner's key.
  dns: name => {
    const match = /^([^?]+)\?key=(.*)$/.exec(name)
    if (match === null) return 'a dns name is <domain>?key=<the owner\'s key>, e.g. dns:alice.example.org?key=b…'
    const domain = match[1].replace(/\.$/, '').toLowerCase()
    if (domain.length > 253 || !domain.split('.').every(label => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))) return `not a DNS domain: ${match[1]}`
    return ed25519Name('the key after ?key=', match[2])
  },
  // Several spellings name one IPNS key (k51… CID, other multibases, 12D3Koo… peer ids): the backend parses them.
  ipns: name => /^[A-Za-z0-9]+$/.test(name) ? undefined : 'an ipns name is a libp2p key, e.g. ipns:k51qzi5uqu5…',
  hypercore: name => {
    const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769'
    if (!new RegExp(`^[${alphabet}]{52}$`).test(name)) {
      return `a hypercore name is the log's key in z-base-32: 52 characters of ${alphabet}${describeLength(name, 52)}`
    }
    try {
      const bytes = base32z.baseDecode(name)
      if (bytes.byteLength === 32 && base32z.baseEncode(bytes) === name) return undefined
    } catch {}
    return 'not a canonical hypercore key (its last character is off): copy the address again'
  }
}

/** Schemes a remotelog name system exists for, whether or not a config sets it up. */
export const knownSchemes: readonly string[] = Object.keys(nameChecks)

function describeLength (name: string, wanted: number): string {
  return name.length === wanted ? '' : ` (this one has ${name.length})`
}

function ed25519Name (subject: string, name: string): string | undefined {
  const what = `${subject} is the log's ed25519 key as base32 multibase: "b" and 52 characters a–z, 2–7 (\`remotelog address\` prints it)`
  if (!/^b[a-z2-7]{52}$/.test(name)) return `${what}${name.startsWith('b') ? describeLength(name, 53) : ''}`
  try {
    if (base32.decode(name).byteLength === 32) return undefined
  } catch {}
  return what
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = row
  }
  return previous[b.length]
}

/**
 * Checks an address before anything is opened: its scheme is one remotelog knows (INVALID_INPUT,
 * `unknown scheme "locl" (known: …)`), its name is written as that scheme's names are (INVALID_INPUT),
 * and `configured` (the config's ns and resolvers) can resolve it (INVALID_CONFIG otherwise).
 * @example checkAddress('locl:bafy…', ['local']) // throws: unknown scheme "locl" (known: local, twirp, ens, hypercore; did you mean "local"?)
 */
export function checkAddress (text: string, configured: readonly string[]): LogAddress {
  const address = parseAddress(text)
  const { scheme, name } = address
  const known = [...new Set([...configured, ...knownSchemes])]
  if (!known.includes(scheme)) {
    const close = known.filter(k => editDistance(k, scheme) <= 2).sort((a, b) => editDistance(a, scheme) - editDistance(b, scheme))[0]
    throw fail('INVALID_INPUT', `unknown scheme "${scheme}" (known: ${known.join(', ')}${close !== undefined ? `; did you mean "${close}"?` : ''})`)
  }
  const problem = nameChecks[scheme]?.(name)
  if (problem !== undefined) throw fail('INVALID_INPUT', `not ${/^[aeiou]/.test(scheme) ? 'an' : 'a'} ${scheme} address: ${text.trim()}: ${problem}`)
  if (!configured.includes(scheme)) {
    throw fail('INVALID_CONFIG', `no name system configured for "${scheme}:" addresses (this config resolves ${configured.map(s => `${s}:`).join(', ')}; add resolvers.${scheme} to the config, e.g. with \`remotelog init --profile devnet --force\`)`)
  }
  return address
}
