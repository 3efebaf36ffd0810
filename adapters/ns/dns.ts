import { promises as dnsPromises } from 'node:dns'
import { isIP } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { decodePointer, encodePointer } from '../../core/head-pointer.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishOptions, ResolvedHead } from '../../core/name-system.js'
import { keyPairFromSecret, nameOfPublicKey, openRecord, signRecord } from '../../core/signed-record.js'
import { checkDomain, dnslinkName, formatDnsName, parseDnsName, type DnsName } from './dns-name.js'
import { signMessage, verifyAnswer, type TsigKey } from './dns-tsig.js'
import { headTxt, parseHeadTxt } from './dns-txt.js'
import { exchange, formatServer, parseServer, rcodeOf, txtAnswer, txtQuery, updateMessage, type DnsServerAddress, type TxtStrings } from './dns-wire.js'

export type { TsigKey } from './dns-tsig.js'

/**
 * Options of the `dns` name system (config: `{ "driver": "dns", … }`). A reader needs none of them
 * (the system's resolver is the default); a writer needs `server`, `zone` and `tsig`.
 */
export interface DnsNsOptions {
  /**
   * The DNS server to ask, `host` or `host:port` (`[v6]:port`). A writer sends its updates here, so
   * it is the zone's primary server; a reader may use any resolver. Default: the system's resolvers
   * (a writer must give it).
   */
  server?: string
  /** The zone updates go to, e.g. `example.org` (the zone's apex, as its SOA names it). */
  zone?: string
  /**
   * The domain of a log, `{label}` standing for the log's label (the endpoint's name, or
   * `<name>-<log>`). Default `{label}.<zone>`. A domain without `{label}` serves one log only.
   */
  domain?: string
  /** The TSIG key the server accepts updates of the zone's TXT records with (HMAC-SHA256). */
  tsig?: TsigKey
  /** TTL of the published records, seconds. Default 60: a caching resolver may show a head that late. */
  ttl?: number
  /** How often `watch` resolves. Default 1000 ms. */
  pollMs?: number
  /** Bound on each DNS request. Default 5000 ms. */
  timeoutMs?: number
}

const BACKEND = 'dns'

/** The records the `_dnslink` name held when a publish read it: exact bytes, for the update's prerequisite. */
interface Current {
  txt: TxtStrings[] | undefined
  /** Our signed head among them, verified. */
  head?: { sequence: number, head: ResolvedHead }
  /** Why the records there are not a valid head of this key (forged, another key's, malformed). */
  invalid?: unknown
}

/**
 * DNS name system (DNSLink + RFC 2136): a log lives at a domain; its head is two TXT records at
 * `_dnslink.<domain>` — the standard `dnslink=/ipfs/<head CID>` and our signed head record
 * (ed25519, sequence = revision, as the local NS signs it). Readers resolve through any DNS
 * resolver and check the owner's signature and revision themselves, because DNS does not
 * authenticate what it serves: the address carries the owner's key (`dns:<domain>?key=<b…>`).
 * A publish is one RFC 2136 UPDATE signed with TSIG that replaces both records at once, on the
 * condition that the records are still the ones the writer read (a compare-and-swap on the server).
 * @example
 * const ns = dnsNs({ server: '127.0.0.1:5300', zone: 'example.org', tsig: { name: 'k.', algorithm: 'hmac-sha256', secret } })
 * const name = await ns.nameOf({ label: 'alice', secret })  // 'alice.example.org?key=b…'
 * await ns.publish(name, { head, length: 3, revision: 1 }, { label: 'alice', secret })
 */
export function dnsNs (options: DnsNsOptions = {}): NameSystem {
  const timeoutMs = options.timeoutMs ?? 5000
  const ttl = options.ttl ?? 60
  const zone = options.zone !== undefined ? checkDomain(options.zone, 'zone') : undefined
  const template = options.domain ?? (zone !== undefined ? `{label}.${zone}` : undefined)
  const server = options.server !== undefined ? parseServer(options.server) : undefined
  if (options.tsig !== undefined) checkTsig(options.tsig)
  const highestSeen = new Map<string, number>()

  // Node's resolver takes addresses only: a server given by name is looked up once.
  let resolverReady: Promise<dnsPromises.Resolver> | undefined
  const resolver = async (): Promise<dnsPromises.Resolver> => {
    resolverReady ??= (async () => {
      const r = new dnsPromises.Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 2)), tries: 2 })
      if (server !== undefined) {
        const host = isIP(server.host) !== 0 ? server.host : (await dnsPromises.lookup(server.host)).address
        r.setServers([formatServer({ host, port: server.port })])
      }
      return r
    })()
    return await resolverReady.catch((cause: unknown) => {
      resolverReady = undefined
      throw fail('UNAVAILABLE', `cannot find the DNS server ${options.server ?? ''}`, { backend: BACKEND, cause })
    })
  }

  function writerSettings (): { server: DnsServerAddress, zone: string, tsig: TsigKey } {
    const missing = [server === undefined && 'server', zone === undefined && 'zone', options.tsig === undefined && 'tsig'].filter(Boolean)
    if (missing.length > 0) throw fail('INVALID_CONFIG', `publishing to DNS needs ${missing.join(', ')} in the dns NS config (the zone's primary server, the zone, a TSIG key allowed to update it)`, { backend: BACKEND })
    return { server: server!, zone: zone!, tsig: options.tsig! }
  }

  /** Opens the one signed head record among TXT records; throws what is wrong with it. */
  function openHead (name: DnsName, txt: Array<Array<string | Uint8Array>>): { sequence: number, head: ResolvedHead } | undefined {
    const where = dnslinkName(name.domain)
    const { dnslinks, records } = parseHeadTxt(txt, where)
    if (records.length === 0) return undefined
    if (records.length > 1) throw fail('MALFORMED', `${where} holds ${records.length} remotelog records, not one`, { backend: BACKEND })
    // PERMISSION when another key signed it, INTEGRITY when the signature is forged.
    const record = openRecord(name.key, records[0], BACKEND)
    const head = decodePointer(record.value)
    if (head.revision !== record.sequence) throw fail('MALFORMED', `record sequence ${record.sequence} differs from its value's revision ${String(head.revision)}`, { backend: BACKEND })
    const link = `/ipfs/${head.head.toString()}`
    if (dnslinks.length > 0 && !dnslinks.includes(link)) {
      throw fail('INTEGRITY', `${where}: dnslink=${dnslinks[0]} is not the signed head ${link}`, { backend: BACKEND })
    }
    return { sequence: record.sequence, head }
  }

  /** The RRset as the primary server holds it now (over TCP, never a cache). */
  async function readCurrent (name: DnsName, target: DnsServerAddress, callOptions?: CallOptions): Promise<Current> {
    const owner = dnslinkName(name.domain)
    const txt = txtAnswer(await exchange(target, txtQuery(owner), { signal: callOptions?.signal, timeoutMs }), owner)
    try {
      return { txt, head: txt === undefined ? undefined : openHead(name, txt) }
    } catch (invalid) {
      if (!isRemoteLogError(invalid) || !['PERMISSION', 'INTEGRITY', 'MALFORMED'].includes(invalid.code)) throw invalid
      return { txt, invalid }
    }
  }

  async function resolve (name: string, callOptions?: CallOptions): Promise<ResolvedHead> {
    const parsed = parseDnsName(name)
    const owner = dnslinkName(parsed.domain)
    callOptions?.signal?.throwIfAborted()
    let txt: string[][]
    try {
      txt = await withTimeout((await resolver()).resolveTxt(owner), timeoutMs, owner)
    } catch (e) {
      throw resolveError(e, owner)
    }
    const opened = openHead(parsed, txt)
    if (opened === undefined) throw fail('NOT_FOUND', `no remotelog record at ${owner}`, { backend: BACKEND })
    const seen = highestSeen.get(name)
    if (seen !== undefined && opened.sequence < seen) {
      throw fail('CONFLICT', `record for dns:${name} rolled back from revision ${seen} to ${opened.sequence}`, { backend: BACKEND })
    }
    highestSeen.set(name, opened.sequence)
    return opened.head
  }

  return {
    backend: BACKEND,
    scheme: 'dns',
    capabilities: { watch: true, records: true },
    resolve,

    async nameOf (owner: OwnerKey): Promise<string> {
      if (template === undefined) throw fail('INVALID_CONFIG', 'the dns NS needs a zone or a domain to name a log', { backend: BACKEND })
      const label = owner.label.toLowerCase()
      const domain = checkDomain(template.split('{label}').join(label))
      return formatDnsName({ domain, key: nameOfPublicKey(keyPairFromSecret(owner.secret).publicKey) })
    },

    async publish (name: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions = {}) {
      const parsed = parseDnsName(name)
      const keys = keyPairFromSecret(owner.secret)
      if (nameOfPublicKey(keys.publicKey) !== parsed.key) throw fail('PERMISSION', `dns:${name} belongs to another key`, { backend: BACKEND })
      const settings = writerSettings()
      if (parsed.domain !== settings.zone && !parsed.domain.endsWith(`.${settings.zone}`)) {
        throw fail('INVALID_CONFIG', `${parsed.domain} is not in the zone ${settings.zone}`, { backend: BACKEND })
      }
      const current = await readCurrent(parsed, settings.server, publishOptions)
      const previous = publishOptions.previous
      // Records that are not this key's valid head: on a first publish the domain is someone else's
      // (refused); a writer that published here before replaces them (they were forged or foreign).
      if (current.invalid !== undefined && previous === undefined) throw current.invalid
      const existing = current.head
      // Revisions grow by one per publish, so `record.revision - 1` is this writer's last one. A record
      // of ours older than that was put back by someone holding the TSIG key (or served by a lagging
      // secondary): readers refuse it, and this publish, which continues the writer's chain, replaces it.
      const putBack = existing !== undefined && previous !== undefined && existing.sequence < record.revision - 1
      if (existing !== undefined && !putBack && (previous === undefined || !existing.head.head.equals(previous))) {
        const expected = previous === undefined ? '(none: a first publish)' : String(previous)
        throw fail('CONFLICT', `dns:${name} points at ${existing.head.head.toString()} (revision ${existing.sequence}), not at this writer's last head ${expected}`, { backend: BACKEND })
      }
      if (existing !== undefined && record.revision <= existing.sequence) {
        throw fail('CONFLICT', `revision ${record.revision} for dns:${name} is not above the current ${existing.sequence} (replayed or stale)`, { backend: BACKEND })
      }
      const signed = signRecord(parsed.key, record.revision, encodePointer(record), keys)
      const update = updateMessage({ zone: settings.zone, name: dnslinkName(parsed.domain), expect: current.txt ?? 'absent', replace: headTxt(record.head, signed), ttl })
      const request = signMessage(update, settings.tsig)
      const answer = await exchange(settings.server, request.bytes, { signal: publishOptions.signal, timeoutMs })
      verifyAnswer(answer, request.mac, settings.tsig)
      const rcode = rcodeOf(answer)
      if (rcode !== 'NOERROR') throw updateError(rcode, name, settings.zone)
      highestSeen.set(name, Math.max(record.revision, highestSeen.get(name) ?? 0))
      return {}
    },

    async * watch (name: string, watchOptions: CallOptions): AsyncIterable<ResolvedHead> {
      let last: string | undefined
      const signal = watchOptions.signal
      while (signal?.aborted !== true) {
        try {
          const head = await resolve(name, watchOptions)
          const key = `${String(head.revision)}:${head.head.toString()}`
          if (key !== last) {
            last = key
            yield head
          }
        } catch (e) {
          // (aborting ends the watch quietly: a pending lookup may fail with it)
          if ((signal as AbortSignal | undefined)?.aborted === true) return
          if (!isRemoteLogError(e, 'NOT_FOUND')) throw e
        }
        await sleep(options.pollMs ?? 1000, undefined, { signal }).catch(() => {})
      }
    },

    async close () {
      if (resolverReady !== undefined) (await resolverReady.catch(() => undefined))?.cancel()
    }
  }
}

function checkTsig (tsig: TsigKey): void {
  const ok = typeof tsig === 'object' && tsig !== null && typeof tsig.name === 'string' && tsig.name !== '' &&
    tsig.algorithm === 'hmac-sha256' && typeof tsig.secret === 'string' && Buffer.from(tsig.secret, 'base64').length >= 16
  if (!ok) throw fail('INVALID_CONFIG', 'dns NS tsig must be { "name": "<key name>", "algorithm": "hmac-sha256", "secret": "<base64, 16 bytes or more>" }', { backend: BACKEND })
}

async function withTimeout<T> (work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([work, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(fail('TIMEOUT', `no DNS answer for ${what} within ${ms} ms`, { backend: BACKEND })), ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}

/** Node resolver errors as remotelog errors. */
function resolveError (e: unknown, owner: string): unknown {
  if (isRemoteLogError(e)) return e
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOTFOUND' || code === 'ENODATA') return fail('NOT_FOUND', `no TXT records at ${owner}`, { backend: BACKEND })
  if (code === 'ETIMEOUT') return fail('TIMEOUT', `no DNS answer for ${owner}`, { backend: BACKEND, cause: e })
  if (code === 'ECANCELLED') return fail('ABORTED', `DNS lookup of ${owner} cancelled`, { backend: BACKEND, cause: e })
  return fail('UNAVAILABLE', `DNS lookup of ${owner} failed (${code ?? 'error'})`, { backend: BACKEND, cause: e })
}

/** What an UPDATE's response code means for a publish. */
function updateError (rcode: string, name: string, zone: string): Error {
  switch (rcode) {
    case 'NXRRSET':
    case 'YXRRSET':
      return fail('CONFLICT', `dns:${name} changed since this writer read it (another publish won): the update's prerequisite failed (${rcode})`, { backend: BACKEND })
    case 'REFUSED':
    case 'NOTAUTH':
      return fail('PERMISSION', `the DNS server refused the update of dns:${name} (${rcode}): the TSIG key may not update TXT records there`, { backend: BACKEND })
    case 'NOTZONE':
      return fail('INVALID_CONFIG', `the DNS server is not authoritative for ${zone}, or the name is outside it (NOTZONE)`, { backend: BACKEND })
    case 'FORMERR':
      return fail('MALFORMED', `the DNS server could not parse the update of dns:${name} (FORMERR)`, { backend: BACKEND })
    default:
      return fail('UNAVAILABLE', `the DNS server answered ${rcode} to the update of dns:${name}`, { backend: BACKEND })
  }
}
