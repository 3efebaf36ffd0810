import { randomInt } from 'node:crypto'
import { connect, isIP } from 'node:net'
import packet from 'dns-packet'
import { fail, isRemoteLogError } from '../../core/errors.js'

/** A DNS server to talk to: an address and a port. */
export interface DnsServerAddress {
  host: string
  port: number
}

/**
 * Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address (port 53 unless given).
 * @example parseServer('127.0.0.1:5353') // { host: '127.0.0.1', port: 5353 }
 */
export function parseServer (text: string): DnsServerAddress {
  const bad = (): never => { throw fail('INVALID_CONFIG', `not a DNS server address (host, host:port or [v6]:port): ${text}`, { backend: 'dns' }) }
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  const [host, port] = v6 !== null ? [v6[1], v6[2]] : isIP(text) === 6 ? [text, undefined] : text.split(':') as [string, string | undefined]
  if (host === undefined || host === '' || (port !== undefined && !/^\d{1,5}$/.test(port))) return bad()
  const number = port === undefined ? 53 : Number(port)
  if (number < 1 || number > 65535) return bad()
  return { host, port: number }
}

/** `host:port` as Node's resolver takes it (`[v6]:port` for IPv6). */
export function formatServer (server: DnsServerAddress): string {
  return isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`
}

const OPCODE_UPDATE = 5 << 11
const CLASS_NONE = 254
const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE' }

/** The name of a response code (`NXRRSET`…), from a message's header. */
export function rcodeOf (message: Buffer): string {
  const code = message.readUInt16BE(2) & 0xf
  return RCODE_NAMES[code] ?? `RCODE${code}`
}

function nameLength (name: string): number {
  return name.replace(/^\.|\.$/g, '').split('.').filter(l => l !== '').reduce((n, label) => n + Buffer.byteLength(label) + 1, 1)
}

/** A TXT record's character strings, as bytes. */
export type TxtStrings = Buffer[]

/**
 * A query for the TXT records at `name`, without recursion (asked of the authoritative server).
 * @example txtQuery('_dnslink.alice.example.org')
 */
export function txtQuery (name: string): Buffer {
  return packet.encode({ type: 'query', id: randomInt(65536), flags: 0, questions: [{ type: 'TXT', class: 'IN', name }] })
}

/** The TXT records of an answer to `txtQuery`; undefined when the name has none (NXDOMAIN or no TXT). */
export function txtAnswer (message: Buffer, name: string): TxtStrings[] | undefined {
  const rcode = rcodeOf(message)
  if (rcode === 'NXDOMAIN') return undefined
  if (rcode !== 'NOERROR') throw fail(rcode === 'REFUSED' ? 'PERMISSION' : 'UNAVAILABLE', `the DNS server answered ${rcode} for TXT ${name}`, { backend: 'dns' })
  let decoded
  try {
    decoded = packet.decode(message)
  } catch (cause) {
    throw fail('MALFORMED', `the DNS server's answer for ${name} does not decode`, { backend: 'dns', cause })
  }
  const records = (decoded.answers ?? [])
    .flatMap(a => a.type === 'TXT' && a.name.toLowerCase() === name.toLowerCase() ? [a.data] : [])
    .map(data => (Array.isArray(data) ? data : [data]).map(s => Buffer.from(s)))
  return records.length === 0 ? undefined : records
}

export interface UpdateRequest {
  /** The zone the name is in (the update's zone section). */
  zone: string
  /** The owner name of the TXT RRset, e.g. `_dnslink.alice.example.org`. */
  name: string
  /**
   * What the RRset must be for the update to apply (RFC 2136 §2.4): exactly these records
   * ("RRset exists, value dependent"), or `absent`: no TXT RRset at all ("RRset does not exist").
   * Undefined: no prerequisite (an unconditional replace).
   */
  expect?: TxtStrings[] | 'absent'
  /** The records replacing the whole RRset. */
  replace: TxtStrings[]
  ttl: number
}

/**
 * An RFC 2136 UPDATE message that replaces the TXT RRset at `name` in one atomic step (delete the
 * RRset, add the new records), applied only if the RRset is still what `expect` says: a
 * compare-and-swap the server performs. Sign it with `signMessage` before sending.
 */
export function updateMessage (request: UpdateRequest): Buffer {
  const { zone, name, ttl } = request
  const message = packet.encode({
    type: 'query',
    id: randomInt(65536),
    flags: OPCODE_UPDATE,
    questions: [{ type: 'SOA', class: 'IN', name: zone }],
    answers: request.expect === undefined
      ? []
      : request.expect === 'absent'
        ? [{ type: 'TXT', class: 'IN', name, ttl: 0, data: [] }] // class set to NONE below
        : request.expect.map(data => ({ type: 'TXT' as const, class: 'IN' as const, name, ttl: 0, data })),
    authorities: [
      { type: 'TXT', class: 'ANY', name, ttl: 0, data: [] }, // delete the RRset
      ...request.replace.map(data => ({ type: 'TXT' as const, class: 'IN' as const, name, ttl, data }))
    ]
  })
  if (request.expect === 'absent') {
    // dns-packet has no class NONE (254): the "RRset does not exist" prerequisite is patched in
    // place. dns-packet does not compress names, so the class sits right after the owner name and type.
    const at = 12 + nameLength(zone) + 4 + nameLength(name) + 2
    if (message.readUInt16BE(at) !== 1 || message.readUInt16BE(at - 2) !== 16) throw new Error('unexpected UPDATE layout from dns-packet')
    message.writeUInt16BE(CLASS_NONE, at)
  }
  return message
}

export interface ExchangeOptions {
  signal?: AbortSignal
  timeoutMs: number
}

/**
 * Sends one message over TCP (RFC 1035 §4.2.2: two-byte length prefix) and returns the answer with
 * the same id. TCP, not UDP: an update is never sent twice (a UDP retry of an applied update would
 * fail its own prerequisite), and no answer is truncated.
 */
export async function exchange (server: DnsServerAddress, message: Buffer, options: ExchangeOptions): Promise<Buffer> {
  const where = formatServer(server)
  options.signal?.throwIfAborted()
  return await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port, noDelay: true })
    let received = Buffer.alloc(0)
    let settled = false
    const finish = (error: unknown, answer?: Buffer): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (error !== undefined) reject(error)
      else resolve(answer!)
    }
    const onAbort = (): void => finish(fail('ABORTED', `DNS request to ${where} aborted`, { backend: 'dns' }))
    const timer = setTimeout(() => finish(fail('TIMEOUT', `no answer from the DNS server ${where} within ${options.timeoutMs} ms`, { backend: 'dns' })), options.timeoutMs)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => {
      const length = Buffer.alloc(2)
      length.writeUInt16BE(message.length)
      socket.write(Buffer.concat([length, message]))
    })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        const answer = received.subarray(2, 2 + received.readUInt16BE(0))
        if (answer.length < 12 || answer.readUInt16BE(0) !== message.readUInt16BE(0)) finish(fail('MALFORMED', `the DNS server ${where} answered another request`, { backend: 'dns' }))
        else finish(undefined, answer)
      }
    })
    socket.once('error', cause => finish(isRemoteLogError(cause) ? cause : fail('UNAVAILABLE', `cannot reach the DNS server ${where}`, { backend: 'dns', cause })))
    socket.once('close', () => finish(fail('UNAVAILABLE', `the DNS server ${where} closed the connection without an answer`, { backend: 'dns' })))
  })
}
