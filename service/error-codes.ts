import { fail, isRemoteLogError, type ErrorCode, type RemoteLogError } from '../core/errors.js'
import { isTwirpError, TwirpError, type TwirpCode } from './twirp-wire.js'

/**
 * How remotelog errors travel as Twirp errors, both ways — the one table of the mapping.
 *
 * Server → wire (our code → Twirp code, HTTP status):
 * | remotelog      | Twirp               | HTTP | when                                                           |
 * |----------------|---------------------|------|----------------------------------------------------------------|
 * | NOT_FOUND      | not_found           | 404  | Get of a missing object, Fetch of an unknown name              |
 * | INTEGRITY      | data_loss           | 500  | the server's store holds bytes that don't match their id       |
 * | CONFLICT       | failed_precondition | 412  | Update whose sequence is not above the stored one (rollback);  |
 * |                |                     |      | Release of a page still in its log, or of an expired release   |
 * | (replay)       | already_exists      | 409  | Update that is exactly the record already stored               |
 * | PERMISSION     | permission_denied   | 403  | Update signed by another key than the name's, or forged;       |
 * |                |                     |      | Release of a page of another key's log, or forged              |
 * | INVALID_INPUT  | invalid_argument    | 400  | a bad id or name                                               |
 * | TOO_LARGE      | invalid_argument    | 400  | object over 1 MiB or body over the limit (meta remotelog_code) |
 * | MALFORMED      | malformed           | 400  | undecodable body or record                                     |
 * | UNAVAILABLE    | unavailable         | 503  | backend down, or the server is shutting down                   |
 * | TIMEOUT        | deadline_exceeded   | 408  | the backend did not answer in time (never reported as missing)  |
 * | ABORTED        | canceled            | 408  |                                                                |
 * | (rate, quota)  | resource_exhausted  | 429  | NS: too many new names (per client, or in all), updates of a name too fast |
 * | anything else  | internal            | 500  |                                                                |
 * Missing or wrong bearer token on a CAS write (and an NS Update with `tokenCoversNs`): unauthenticated (401).
 * TOO_LARGE also covers an NS record over its limit (10 KiB by default).
 *
 * Every error the server sends carries `meta.remotelog_code`, so our client restores the exact
 * code (TOO_LARGE shares invalid_argument with INVALID_INPUT); other Twirp clients see standard codes.
 */
const toTwirp: Record<ErrorCode, TwirpCode> = {
  NOT_FOUND: 'not_found',
  INTEGRITY: 'data_loss',
  CONFLICT: 'failed_precondition',
  PERMISSION: 'permission_denied',
  INVALID_INPUT: 'invalid_argument',
  TOO_LARGE: 'invalid_argument',
  MALFORMED: 'malformed',
  UNAVAILABLE: 'unavailable',
  TIMEOUT: 'deadline_exceeded',
  ABORTED: 'canceled',
  INVALID_CONFIG: 'internal'
}

/** Client side: a Twirp code from any Twirp server → our code (when meta names none of ours). */
const fromTwirp: Record<TwirpCode, ErrorCode> = {
  canceled: 'ABORTED',
  unknown: 'UNAVAILABLE',
  invalid_argument: 'INVALID_INPUT',
  malformed: 'MALFORMED',
  deadline_exceeded: 'TIMEOUT',
  not_found: 'NOT_FOUND',
  bad_route: 'INVALID_CONFIG',
  already_exists: 'CONFLICT',
  permission_denied: 'PERMISSION',
  unauthenticated: 'PERMISSION',
  resource_exhausted: 'UNAVAILABLE',
  failed_precondition: 'CONFLICT',
  aborted: 'CONFLICT',
  out_of_range: 'INVALID_INPUT',
  unimplemented: 'INVALID_CONFIG',
  internal: 'UNAVAILABLE',
  unavailable: 'UNAVAILABLE',
  data_loss: 'INTEGRITY'
}

/** Twirp codes worth retrying for an idempotent call: the server may answer next time. */
export const RETRYABLE_TWIRP_CODES: ReadonlySet<TwirpCode> = new Set(['unavailable', 'resource_exhausted'])

/** The meta key naming our exact error code. */
export const REMOTELOG_CODE_META = 'remotelog_code'

/**
 * Server side: what to send for whatever a handler threw. Unknown errors become `internal`
 * without their message (it may name server paths).
 */
export function toTwirpError (e: unknown): TwirpError {
  if (isTwirpError(e)) return e
  if (isRemoteLogError(e)) {
    return new TwirpError(toTwirp[e.code], messageOf(e), { [REMOTELOG_CODE_META]: e.code }, { cause: e })
  }
  return new TwirpError('internal', 'internal server error', {}, { cause: e })
}

/** Client side: the remotelog error for a Twirp error from `backend`. */
export function fromTwirpError (e: TwirpError, backend: string): RemoteLogError {
  const claimed = e.meta[REMOTELOG_CODE_META]
  const code = claimed !== undefined && Object.hasOwn(toTwirp, claimed) && toTwirp[claimed as ErrorCode] === e.code
    ? claimed as ErrorCode
    : fromTwirp[e.code]
  const details = { twirpCode: e.code, meta: e.meta, origin: e.origin }
  return e.origin === 'server'
    ? fail(code, `service answered ${e.code}: ${e.msg}`, { backend, details })
    : fail(code, e.msg, { backend, cause: e.cause, details })
}

// RemoteLogError messages start with "[remotelog] [backend] CODE: "; the code travels separately.
function messageOf (e: RemoteLogError): string {
  return e.message.replace(/^\[remotelog\](?: \[[^\]]*\])? [A-Z_]+: /, '')
}
