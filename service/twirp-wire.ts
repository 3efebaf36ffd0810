// Twirp wire facts shared by the server and the client (https://twitchtv.github.io/twirp/docs/spec_v7.html).

/** Twirp's error codes. */
export type TwirpCode =
  | 'canceled' | 'unknown' | 'invalid_argument' | 'malformed' | 'deadline_exceeded' | 'not_found'
  | 'bad_route' | 'already_exists' | 'permission_denied' | 'unauthenticated' | 'resource_exhausted'
  | 'failed_precondition' | 'aborted' | 'out_of_range' | 'unimplemented' | 'internal' | 'unavailable'
  | 'data_loss'

/** The HTTP status Twirp sends with each error code (spec: "Error Codes"). */
export const TWIRP_STATUS: Readonly<Record<TwirpCode, number>> = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500
}

export function isTwirpCode (code: unknown): code is TwirpCode {
  return typeof code === 'string' && Object.hasOwn(TWIRP_STATUS, code)
}

export const CONTENT_TYPE_PROTOBUF = 'application/protobuf'
export const CONTENT_TYPE_JSON = 'application/json'

/** Twirp's route prefix: `POST /twirp/<package>.<Service>/<Method>`. */
export const TWIRP_PREFIX = '/twirp'

/** JSON as Twirp's Go implementation writes it: proto field names, zero values emitted. */
export const JSON_WRITE_OPTIONS = { useProtoFieldName: true, alwaysEmitImplicit: true } as const
export const JSON_READ_OPTIONS = { ignoreUnknownFields: true } as const

/**
 * The Content-Types Twirp speaks. `application/json; charset=utf-8` is accepted too: common
 * clients send it.
 */
export const TWIRP_CONTENT_TYPE = /^application\/(protobuf|json(?:\s*;\s*charset="?utf-?8"?)?)$/i

/** Which body encoding a Content-Type names, or undefined for one Twirp does not speak. */
export function bodyFormat (contentType: string | null | undefined): 'protobuf' | 'json' | undefined {
  const match = TWIRP_CONTENT_TYPE.exec(contentType?.trim() ?? '')
  if (match === null) return undefined
  return match[1].toLowerCase() === 'protobuf' ? 'protobuf' : 'json'
}

/**
 * A Twirp error: the JSON body `{ code, msg, meta }` and its HTTP status.
 * @example throw new TwirpError('not_found', 'no object bafkrei…')
 */
export class TwirpError extends Error {
  readonly code: TwirpCode
  readonly msg: string
  readonly meta: Record<string, string>
  /** `server`: received in a response (or sent by ours); `client`: raised by the client itself (network, timeout). */
  readonly origin: 'server' | 'client'

  constructor (code: TwirpCode, msg: string, meta: Record<string, string> = {}, options?: { cause?: unknown, origin?: 'server' | 'client' }) {
    super(`twirp ${code}: ${msg}`, { cause: options?.cause })
    this.name = 'TwirpError'
    this.code = code
    this.msg = msg
    this.meta = meta
    this.origin = options?.origin ?? 'server'
  }

  get status (): number { return TWIRP_STATUS[this.code] }

  /** The response body, as Twirp's JSON error. */
  toJson (): string {
    return JSON.stringify(Object.keys(this.meta).length > 0
      ? { code: this.code, msg: this.msg, meta: this.meta }
      : { code: this.code, msg: this.msg })
  }
}

export function isTwirpError (e: unknown): e is TwirpError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TwirpError'
}

/**
 * Reads an error response the way Twirp clients do: a Twirp JSON error if the body is one,
 * otherwise an error from an intermediary (proxy, load balancer) with a code derived from the
 * HTTP status, as the spec prescribes.
 */
export function errorFromResponse (status: number, body: string): TwirpError {
  try {
    const parsed = JSON.parse(body) as { code?: unknown, msg?: unknown, meta?: unknown }
    if (isTwirpCode(parsed.code) && typeof parsed.msg === 'string') {
      const meta: Record<string, string> = {}
      if (typeof parsed.meta === 'object' && parsed.meta !== null) {
        for (const [k, v] of Object.entries(parsed.meta)) if (typeof v === 'string') meta[k] = v
      }
      return new TwirpError(parsed.code, parsed.msg, meta)
    }
  } catch {}
  const meta = { http_error_from_intermediary: 'true', status_code: String(status), body: body.slice(0, 200) }
  return new TwirpError(codeOfIntermediaryStatus(status), `non-twirp response with HTTP status ${status}`, meta)
}

function codeOfIntermediaryStatus (status: number): TwirpCode {
  if (status >= 300 && status < 400) return 'internal'
  switch (status) {
    case 400: return 'internal'
    case 401: return 'unauthenticated'
    case 403: return 'permission_denied'
    case 404: return 'bad_route'
    case 429: case 502: case 503: case 504: return 'unavailable'
    default: return 'unknown'
  }
}
