import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { RemoteLogSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { fail } from './errors.js'
import { toCid } from './ids.js'
import type { HeadRecord, ResolvedHead } from './name-system.js'
import { PAGE_FORMAT } from './page.js'

/**
 * The value a name system holds for a log (SPEC §4): a RemoteLog with no pairs whose `tail` is the
 * head page's id, plus the log's length and revision. An RFC-only reader follows it like any page.
 */
export function encodePointer (record: HeadRecord): Uint8Array {
  return toBinary(RemoteLogSchema, create(RemoteLogSchema, {
    tail: record.head.bytes,
    format: PAGE_FORMAT,
    length: BigInt(record.length),
    revision: BigInt(record.revision)
  }))
}

export function decodePointer (bytes: Uint8Array): ResolvedHead {
  let message
  try {
    message = fromBinary(RemoteLogSchema, bytes)
  } catch (cause) {
    throw fail('MALFORMED', 'name value does not decode as a vac.remotelog.RemoteLog pointer', { cause })
  }
  if (message.tail.byteLength === 0 || message.pair.length > 0) throw fail('MALFORMED', 'name value is not a pointer to a head page')
  const head = toCid(message.tail)
  if (message.format === 0) return { head }
  if (message.length > BigInt(Number.MAX_SAFE_INTEGER) || message.revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw fail('MALFORMED', `name value claims length ${message.length} / revision ${message.revision}, out of range`)
  }
  return { head, length: Number(message.length), revision: Number(message.revision) }
}
