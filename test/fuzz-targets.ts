/**
 * Fuzz targets: every decoder that reads bytes from a store, a name system, a state file or the
 * network, driven with arbitrary bytes. A target returns normally when the decoder either decoded
 * the input or refused it with a RemoteLogError (a typed code); anything else — another error
 * class, a TypeError, a RangeError, a decoded value that does not encode back — is thrown as a
 * finding. Used by Jazzer.js (test/fuzz-run.ts) and replayed by test/fuzz.test.ts.
 */
import { create, toBinary, toJsonString } from '@bufbuild/protobuf'
import { createServiceImplSpec } from '@connectrpc/connect'
import { createAsyncIterable, createUniversalServiceHandlers, type UniversalHandler } from '@connectrpc/connect/protocol'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { decodeEntries, encodeEntries, salvageEntries, type StoredEntry } from '../core/entry-file.js'
import { ErrorCodes, isRemoteLogError } from '../core/errors.js'
import { decodePointer, encodePointer } from '../core/head-pointer.js'
import { cidOf, sha256 } from '../core/ids.js'
import { mvdsId } from '../core/mvds.js'
import { decodePage, encodePage, PAGE_FORMAT, type Entry } from '../core/page.js'
import { decodePageHeader } from '../core/page-header.js'
import { keyPairFromSecret, nameOfPublicKey, openRecord, signRecord } from '../core/signed-record.js'
import { CAS, ContentSchema as CasContentSchema, AddressSchema } from '../proto/gen/vac/cas/cas_pb.js'
import { NameUpdateSchema, NS, QuerySchema } from '../proto/gen/vac/ns/ns_pb.js'
import { toTwirpError } from '../service/error-codes.js'
import { casService } from '../service/cas-service.js'
import { nsService } from '../service/ns-service.js'
import { pickRoute, twirpHandlerFactory } from '../service/twirp-protocol.js'
import { bodyFormat, errorFromResponse, isTwirpCode, JSON_WRITE_OPTIONS, TWIRP_STATUS } from '../service/twirp-wire.js'

export type FuzzTarget = (data: Uint8Array) => void | Promise<void>

/** A decoder did something other than decode or refuse with a typed RemoteLogError. */
export class FuzzFinding extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'FuzzFinding'
  }
}

function describe (e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`
  return `${typeof e} ${String(e)}`
}

/** Runs `decode`; a RemoteLogError with a known code is a refusal (undefined), anything else a finding. */
function refusedOrDecoded<T> (what: string, decode: () => T): T | undefined {
  try {
    return decode()
  } catch (e) {
    if (isRemoteLogError(e) && Object.hasOwn(ErrorCodes, e.code)) return undefined
    throw new FuzzFinding(`${what} threw ${describe(e)}, not a RemoteLogError`, e)
  }
}

function check (condition: boolean, message: string): void {
  if (!condition) throw new FuzzFinding(message)
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  (a?.byteLength ?? 0) === (b?.byteLength ?? 0) && Buffer.compare(Buffer.from(a ?? []), Buffer.from(b ?? [])) === 0

/** The owner of the name the record target opens records for (a fixed key: seeds can be signed by it). */
export const FUZZ_OWNER = keyPairFromSecret(new Uint8Array(32).fill(7))
export const FUZZ_NAME = nameOfPublicKey(FUZZ_OWNER.publicKey)
const OTHER_OWNER = keyPairFromSecret(new Uint8Array(32).fill(9))

function pageTarget (data: Uint8Array): void {
  const page = refusedOrDecoded('decodePage', () => decodePage(data))
  if (page === undefined) return
  const header = refusedOrDecoded('decodePageHeader', () => decodePageHeader(data))
  check(header !== undefined && header.count === page.entries.length, 'decodePageHeader refused (or miscounted) a page decodePage accepted')
  // What decodes encodes back to a page that decodes to the same entries.
  const again = refusedOrDecoded('decodePage of a re-encoded page', () => decodePage(encodePage(page)))
  check(again !== undefined, 'a decoded page, encoded again, no longer decodes')
  check(again!.entries.length === page.entries.length && again!.firstSeq === page.firstSeq && again!.length === page.length &&
    again!.revision === page.revision && again!.tail?.toString() === page.tail?.toString(), 'a re-encoded page decodes to other header fields')
  page.entries.forEach((e, i) => {
    const f = again!.entries[i]
    check(e.seq === f.seq && same(e.localHash, f.localHash) && same(e.data, f.data) && e.tombstone === f.tombstone &&
      e.remoteHash?.toString() === f.remoteHash?.toString(), `entry ${i} of a re-encoded page differs`)
  })
}

function headerTarget (data: Uint8Array): void {
  const header = refusedOrDecoded('decodePageHeader', () => decodePageHeader(data))
  if (header === undefined) return
  check(Number.isSafeInteger(header.count) && header.count >= 0, 'decodePageHeader returned a count that is not a count')
  if (header.format >= 1) check(header.length === header.firstSeq! + header.count, 'decodePageHeader accepted a length that is not first_seq + count')
}

function recordTarget (data: Uint8Array): void {
  const record = refusedOrDecoded('openRecord', () => openRecord(FUZZ_NAME, data))
  if (record === undefined) return
  check(Number.isSafeInteger(record.sequence) && record.sequence >= 0, `openRecord accepted sequence ${record.sequence}, not a safe integer`)
  check(same(record.publicKey, FUZZ_OWNER.publicKey), 'openRecord accepted a record of another key')
}

function pointerTarget (data: Uint8Array): void {
  const head = refusedOrDecoded('decodePointer', () => decodePointer(data))
  if (head === undefined) return
  if (head.length === undefined) return
  check(Number.isSafeInteger(head.length) && Number.isSafeInteger(head.revision), `decodePointer returned length ${head.length} / revision ${String(head.revision)}, not safe integers`)
  const again = refusedOrDecoded('decodePointer of a re-encoded pointer', () => decodePointer(encodePointer({ head: head.head, length: head.length!, revision: head.revision! })))
  check(again !== undefined && again.head.equals(head.head) && again.length === head.length && again.revision === head.revision, 'a re-encoded pointer decodes differently')
}

function entriesTarget (data: Uint8Array): void {
  const decoded = refusedOrDecoded('decodeEntries', () => decodeEntries(data))
  const salvaged = refusedOrDecoded('salvageEntries', () => salvageEntries(data))
  check(salvaged !== undefined, 'salvageEntries refused its input: it must keep what is intact, never throw')
  check(salvaged!.torn >= 0 && salvaged!.torn <= data.byteLength, `salvageEntries says ${salvaged!.torn} torn bytes of ${data.byteLength}`)
  if (decoded === undefined) return
  check(decoded.used <= data.byteLength && decoded.entries.length === decoded.ends.length, 'decodeEntries used more bytes than it was given')
  // A file decodeEntries reads whole is one salvageEntries keeps whole.
  check(salvaged!.bad.length === 0 && salvaged!.entries.length === decoded.entries.length, `decodeEntries read ${decoded.entries.length} entries, salvageEntries ${salvaged!.entries.length} (${salvaged!.bad.length} bad)`)
  for (const e of decoded.entries) check(typeof e.seq === 'number', 'an entry without a sequence number')
}

// The Twirp routes the service serves, on memory backends, built as startService builds them. A
// Fetch may long-poll (wait_ms): held at most 20 ms here, so a waiting answer is no timeout.
let routes: Map<string, UniversalHandler> | undefined
function twirpRoutes (): Map<string, UniversalHandler> {
  if (routes !== undefined) return routes
  const factory = (maxBodyBytes: number): ReturnType<typeof twirpHandlerFactory> => twirpHandlerFactory({ maxBodyBytes, toTwirpError })
  routes = new Map()
  for (const handler of [
    ...createUniversalServiceHandlers(createServiceImplSpec<typeof CAS>(CAS, casService(memoryCas())), [factory(2 * 1024 * 1024)]),
    ...createUniversalServiceHandlers(createServiceImplSpec<typeof NS>(NS, nsService(memoryNs(), { limits: { newNamesPerMinute: 1e9, updatesPerSecond: 1e9, maxNames: 1e9, maxWaitMs: 20 } })), [factory(16 * 1024)])
  ]) routes.set(handler.requestPath, handler)
  return routes
}

export const TWIRP_METHODS = ['/twirp/vac.cas.CAS/Add', '/twirp/vac.cas.CAS/Get', '/twirp/vac.ns.NS/Update', '/twirp/vac.ns.NS/Fetch'] as const

/**
 * Input layout: byte 0 picks the method (bits 0-1), the body encoding (bit 2: JSON) and whether
 * bytes 2… up to the length in byte 1 are a Content-Type of their own (bit 3); the rest is the body.
 */
export function twirpInput (method: number, json: boolean, body: Uint8Array, contentType?: string): Uint8Array {
  const type = contentType === undefined ? new Uint8Array(0) : Buffer.from(contentType, 'latin1')
  return Buffer.concat([Buffer.from([(method & 3) | (json ? 4 : 0) | (contentType !== undefined ? 8 : 0), type.byteLength]), type, body])
}

async function twirpTarget (data: Uint8Array): Promise<void> {
  if (data.byteLength < 2) return
  const path = TWIRP_METHODS[data[0] & 3]
  const own = (data[0] & 8) !== 0
  const typeLength = own ? Math.min(data[1], data.byteLength - 2) : 0
  const contentType = own ? Buffer.from(data.subarray(2, 2 + typeLength)).toString('latin1') : (data[0] & 4) !== 0 ? 'application/json' : 'application/protobuf'
  const body = data.subarray(2 + typeLength)

  // The wire helpers: a Content-Type is one of ours or none; any error body becomes a Twirp error.
  const format = bodyFormat(contentType)
  check(format === undefined || format === 'json' || format === 'protobuf', `bodyFormat(${JSON.stringify(contentType)}) = ${String(format)}`)
  const fromBody = errorFromResponse(500, Buffer.from(body).toString('utf8'))
  check(isTwirpCode(fromBody.code), `errorFromResponse gave code ${String(fromBody.code)}`)

  const header = new Headers()
  try {
    header.set('content-type', contentType)
  } catch {
    return // not a header value any HTTP client could send
  }
  const route = pickRoute(twirpRoutes(), 'POST', path, contentType)
  if (!(typeof route === 'function')) {
    check(route.code === 'bad_route', `pickRoute refused with ${route.code}`)
    return
  }
  let response
  try {
    response = await route({
      httpVersion: '1.1',
      url: `http://127.0.0.1${path}`,
      method: 'POST',
      header,
      body: createAsyncIterable([body]),
      signal: new AbortController().signal
    })
  } catch (e) {
    throw new FuzzFinding(`${path} handler threw ${describe(e)} instead of answering a Twirp error`, e)
  }
  const chunks: Uint8Array[] = []
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) chunks.push(chunk)
  const text = Buffer.concat(chunks).toString('utf8')
  if (response.status === 200) return
  let error: { code?: unknown, msg?: unknown }
  try {
    error = JSON.parse(text) as typeof error
  } catch {
    throw new FuzzFinding(`${path} answered HTTP ${response.status} with a body that is not Twirp JSON: ${text.slice(0, 200)}`)
  }
  check(isTwirpCode(error.code) && TWIRP_STATUS[error.code] === response.status, `${path} answered HTTP ${response.status} with code ${String(error.code)}`)
  // `internal` is what an untyped error (a decoder's TypeError, RangeError, …) becomes.
  check(error.code !== 'internal' && error.code !== 'unknown', `${path} answered ${String(error.code)} (an untyped error escaped): ${String(error.msg)}`)
}

/** Every fuzz target by name. */
export const fuzzTargets: Record<string, FuzzTarget> = {
  page: pageTarget,
  header: headerTarget,
  record: recordTarget,
  pointer: pointerTarget,
  entries: entriesTarget,
  twirp: twirpTarget
}

/** Targets whose function is synchronous (Jazzer.js runs them with `--sync`, much faster). */
export const SYNC_TARGETS = new Set(['page', 'header', 'record', 'pointer', 'entries'])

/** Valid inputs of each target, made with the project's own encoders: where each fuzz run starts. */
export function seedInputs (): Record<string, Uint8Array[]> {
  const text = (s: string): Uint8Array => new TextEncoder().encode(s)
  const payloads = ['hello', 'world', '', 'x'.repeat(300)].map(text)
  const groupId = new Uint8Array(32).fill(3)
  const entries: Entry[] = payloads.map((data, i) => i === 0
    ? { seq: 10, localHash: sha256(data), data, remoteHash: cidOf(data) }
    : i === 1
      ? { seq: 11, localHash: mvdsId(groupId, 1234n, data), data, groupId, timestamp: 1234n }
      : i === 2
        ? { seq: 12, localHash: sha256(data), tombstone: true }
        : { seq: 13, localHash: sha256(data), remoteHash: cidOf(data) })
  const tail = cidOf(text('previous page'))
  const pages = [
    encodePage({ format: PAGE_FORMAT, firstSeq: 10, entries, tail, length: 14, revision: 3, scrubbed: [12], logId: new Uint8Array(16).fill(1) }),
    encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: entries.slice(0, 1).map(e => ({ ...e, seq: 0 })), length: 1, revision: 1, scrubbed: [] }),
    encodePage({ format: 0, entries: [{ seq: 0, localHash: sha256(payloads[0]), remoteHash: cidOf(payloads[0]) }], scrubbed: [] })
  ]
  const pointer = encodePointer({ head: cidOf(pages[0]), length: 14, revision: 3 })
  const records = [
    signRecord(FUZZ_NAME, 3, pointer, FUZZ_OWNER),
    signRecord(FUZZ_NAME, 0, new Uint8Array(0), FUZZ_OWNER),
    signRecord(FUZZ_NAME, 5, pointer, OTHER_OWNER)
  ]
  const stored: StoredEntry[] = [
    { seq: 0, localHash: sha256(payloads[0]), payload: payloads[0] },
    { seq: 1, localHash: mvdsId(groupId, 7n, payloads[1]), payload: payloads[1], groupId, timestamp: 7n },
    { seq: 2, localHash: sha256(payloads[2]), tombstone: true }
  ]
  const journal = Buffer.concat([encodeEntries(stored.slice(0, 2)), encodeEntries(stored.slice(2))])
  const casAdd = create(CasContentSchema, { data: text('a payload') })
  const casGet = create(AddressSchema, { id: cidOf(text('a payload')).bytes })
  const update = create(NameUpdateSchema, { name: FUZZ_NAME, content: records[0] })
  const query = create(QuerySchema, { name: FUZZ_NAME })
  const longPoll = create(QuerySchema, { name: FUZZ_NAME, waitMs: 10, afterSequence: 1n })
  return {
    page: pages,
    header: pages,
    record: records,
    pointer: [pointer, encodePointer({ head: tail, length: 0, revision: 0 })],
    entries: [journal, journal.subarray(0, journal.byteLength - 5)],
    twirp: [
      twirpInput(0, false, toBinary(CasContentSchema, casAdd)),
      twirpInput(0, true, text(toJsonString(CasContentSchema, casAdd, JSON_WRITE_OPTIONS))),
      twirpInput(1, false, toBinary(AddressSchema, casGet)),
      twirpInput(1, true, text(toJsonString(AddressSchema, casGet, JSON_WRITE_OPTIONS))),
      twirpInput(2, false, toBinary(NameUpdateSchema, update)),
      twirpInput(2, true, text(toJsonString(NameUpdateSchema, update, JSON_WRITE_OPTIONS))),
      twirpInput(3, false, toBinary(QuerySchema, query)),
      twirpInput(3, true, text(toJsonString(QuerySchema, query, JSON_WRITE_OPTIONS)), 'application/json; charset=utf-8'),
      twirpInput(3, false, toBinary(QuerySchema, longPoll))
    ]
  }
}
