import { createHmac, timingSafeEqual } from 'node:crypto'
import { fail } from '../../core/errors.js'

/**
 * A TSIG key (RFC 8945): the shared secret a DNS server accepts dynamic updates with. BIND's
 * `tsig-keygen -a hmac-sha256 NAME` prints one (`secret` is its base64 string).
 */
export interface TsigKey {
  /** The key's name as the server knows it, e.g. `remotelog-devnet.` */
  name: string
  algorithm: 'hmac-sha256'
  /** The shared secret, base64. */
  secret: string
}

const TYPE_TSIG = 250
const CLASS_ANY = 255
const FUDGE_S = 300
const ALGORITHM = 'hmac-sha256.'
/** TSIG error codes (RFC 8945 §5.3) a server may answer with. */
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' }

/**
 * The canonical wire form of a domain name (RFC 4034 §6.2): lowercase labels, uncompressed.
 * @example wireName('Key.Example.') // <03 'key' 07 'example' 00>
 */
export function wireName (name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(l => l !== '')
  const parts: Buffer[] = []
  for (const label of labels) {
    const bytes = Buffer.from(label.toLowerCase(), 'ascii')
    if (bytes.length > 63) throw fail('INVALID_INPUT', `DNS label over 63 bytes in ${name}`, { backend: 'dns' })
    parts.push(Buffer.from([bytes.length]), bytes)
  }
  parts.push(Buffer.from([0]))
  return Buffer.concat(parts)
}

function u16 (n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

function u48 (n: number): Buffer {
  const b = Buffer.alloc(6)
  b.writeUIntBE(n, 0, 6)
  return b
}

/** The TSIG variables (RFC 8945 §4.3.3) that follow the message in the MAC's input. */
function variables (key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([
    wireName(key.name), u16(CLASS_ANY), Buffer.alloc(4), // class ANY, TTL 0
    wireName(ALGORITHM), u48(timeSigned), u16(fudge), u16(error), u16(other.length), other
  ])
}

function hmac (key: TsigKey, ...parts: Buffer[]): Buffer {
  if (key.algorithm !== 'hmac-sha256') throw fail('INVALID_CONFIG', `TSIG algorithm ${String(key.algorithm)} is not supported (use hmac-sha256)`, { backend: 'dns' })
  const mac = createHmac('sha256', Buffer.from(key.secret, 'base64'))
  for (const part of parts) mac.update(part)
  return mac.digest()
}

/** A message signed with TSIG, and its MAC (needed to check the answer). */
export interface SignedMessage {
  bytes: Buffer
  mac: Buffer
}

/**
 * Signs a complete DNS message (RFC 8945 §5.1): appends a TSIG record whose MAC covers the message
 * and the TSIG variables, and counts it in the header's ARCOUNT.
 * @example const { bytes, mac } = signMessage(update, { name: 'k.', algorithm: 'hmac-sha256', secret })
 */
export function signMessage (message: Buffer, key: TsigKey, now = Date.now()): SignedMessage {
  const timeSigned = Math.floor(now / 1000)
  const mac = hmac(key, message, variables(key, timeSigned, FUDGE_S, 0, Buffer.alloc(0)))
  const rdata = Buffer.concat([
    wireName(ALGORITHM), u48(timeSigned), u16(FUDGE_S), u16(mac.length), mac,
    message.subarray(0, 2), // original id
    u16(0), u16(0) // error, other len
  ])
  const record = Buffer.concat([wireName(key.name), u16(TYPE_TSIG), u16(CLASS_ANY), Buffer.alloc(4), u16(rdata.length), rdata])
  const bytes = Buffer.concat([message, record])
  bytes.writeUInt16BE(message.readUInt16BE(10) + 1, 10)
  return { bytes, mac }
}

/** Offset just past the domain name at `offset` (labels or a compression pointer). */
function skipName (buf: Buffer, offset: number): number {
  for (;;) {
    const len = buf[offset]
    if (len === undefined) throw new RangeError('name runs past the message')
    if ((len & 0xc0) === 0xc0) return offset + 2
    if (len === 0) return offset + 1
    offset += len + 1
  }
}

/** Reads the uncompressed name at `offset` as text, and the offset past it. */
function readName (buf: Buffer, offset: number): [string, number] {
  const labels: string[] = []
  for (;;) {
    const len = buf[offset]
    if (len === undefined || (len & 0xc0) !== 0) throw new RangeError('bad name in TSIG record')
    offset++
    if (len === 0) return [labels.join('.').toLowerCase() + '.', offset]
    labels.push(buf.toString('ascii', offset, offset + len))
    offset += len
  }
}

/** Where the message's last additional record starts (the TSIG record, when there is one). */
function lastRecordOffset (buf: Buffer): number | undefined {
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)]
  if (counts[3] === 0) return undefined
  let offset = 12
  for (let i = 0; i < counts[0]; i++) offset = skipName(buf, offset) + 4
  const records = counts[1] + counts[2] + counts[3] - 1
  for (let i = 0; i < records; i++) {
    offset = skipName(buf, offset) + 8
    offset += 2 + buf.readUInt16BE(offset)
  }
  return offset
}

/**
 * Checks the TSIG record of a server's answer to a signed request (RFC 8945 §5.3): the MAC over the
 * request's MAC, the answer without its TSIG record and the TSIG variables, and the time. Answers
 * with a TSIG error are PERMISSION (the server refused the key); an unsigned answer or a bad MAC is
 * INTEGRITY (not from a holder of the key).
 */
export function verifyAnswer (answer: Buffer, requestMac: Buffer, key: TsigKey, now = Date.now()): void {
  const rcode = answer.length >= 4 ? answer.readUInt16BE(2) & 0xf : 0
  let offset: number | undefined
  try {
    offset = lastRecordOffset(answer)
  } catch (cause) {
    throw fail('MALFORMED', 'the server\'s answer does not parse', { backend: 'dns', cause })
  }
  const unsigned = (): never => {
    // NOTAUTH without a TSIG record: the server did not know or accept the key (RFC 8945 §5.2).
    if (rcode === 9) throw fail('PERMISSION', `the DNS server refused TSIG key ${key.name} (NOTAUTH): check the key's name and secret`, { backend: 'dns' })
    throw fail('INTEGRITY', 'the DNS server\'s answer is not signed with the TSIG key', { backend: 'dns' })
  }
  if (offset === undefined) return unsigned()
  try {
    let at = skipName(answer, offset)
    if (answer.readUInt16BE(at) !== TYPE_TSIG) return unsigned()
    at += 10 // type, class, ttl, rdlength
    const [algorithm, afterAlgorithm] = readName(answer, at)
    at = afterAlgorithm
    const timeSigned = answer.readUIntBE(at, 6)
    const fudge = answer.readUInt16BE(at + 6)
    const macSize = answer.readUInt16BE(at + 8)
    const mac = answer.subarray(at + 10, at + 10 + macSize)
    at += 10 + macSize
    const originalId = answer.readUInt16BE(at)
    const error = answer.readUInt16BE(at + 2)
    const otherLength = answer.readUInt16BE(at + 4)
    const other = answer.subarray(at + 6, at + 6 + otherLength)
    if (error !== 0) {
      const what = TSIG_ERRORS[error] ?? `error ${error}`
      throw fail('PERMISSION', `the DNS server refused TSIG key ${key.name} (${what}${error === 18 ? ': the clocks differ by more than the fudge' : ''})`, { backend: 'dns' })
    }
    if (algorithm !== ALGORITHM) throw fail('INTEGRITY', `the answer is signed with ${algorithm}, not ${ALGORITHM}`, { backend: 'dns' })
    const unsignedAnswer = Buffer.from(answer.subarray(0, offset))
    unsignedAnswer.writeUInt16BE(originalId, 0)
    unsignedAnswer.writeUInt16BE(answer.readUInt16BE(10) - 1, 10)
    const expected = hmac(key, u16(requestMac.length), requestMac, unsignedAnswer, variables(key, timeSigned, fudge, error, other))
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw fail('INTEGRITY', 'the DNS server\'s answer has a bad TSIG MAC', { backend: 'dns' })
    if (Math.abs(Math.floor(now / 1000) - timeSigned) > fudge) throw fail('INTEGRITY', 'the DNS server\'s signed answer is outside its time window', { backend: 'dns' })
  } catch (e) {
    if (e instanceof RangeError) throw fail('MALFORMED', 'the TSIG record of the server\'s answer does not parse', { backend: 'dns', cause: e })
    throw e
  }
}
