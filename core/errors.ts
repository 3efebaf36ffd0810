/** Stable error codes. Tell errors apart by `code`, never by `instanceof`. */
export const ErrorCodes = {
  NOT_FOUND: 'Not found',
  INTEGRITY: 'Bytes do not match their id',
  CONFLICT: 'Conflicting or stale update',
  PERMISSION: 'Not the owner of this name',
  INVALID_INPUT: 'Invalid input',
  TOO_LARGE: 'Input is larger than allowed',
  MALFORMED: 'Malformed data',
  UNAVAILABLE: 'Backend is unavailable',
  TIMEOUT: 'Timed out',
  ABORTED: 'Aborted',
  INVALID_CONFIG: 'Invalid configuration'
} as const

/** One of the stable error codes (`NOT_FOUND`, `CONFLICT`, …). */
export type ErrorCode = keyof typeof ErrorCodes

/** What an error carries beside its code and message. */
export interface ErrorOptions {
  /** Which backend raised it, e.g. `ens`, `kubo`. Shown as `[remotelog] [ens] …`. */
  backend?: string
  cause?: unknown
  /** Extra context for machines (`--json`) and for people. */
  details?: Record<string, unknown>
}

/**
 * The one error class of remotelog.
 * @example
 * try { await cas.get(id) } catch (e) { if (isRemoteLogError(e, 'NOT_FOUND')) … }
 */
export class RemoteLogError extends Error {
  readonly code: ErrorCode
  readonly backend?: string
  readonly details?: Record<string, unknown>

  constructor (code: ErrorCode, message: string = ErrorCodes[code], options: ErrorOptions = {}) {
    const prefix = options.backend !== undefined ? `[remotelog] [${options.backend}]` : '[remotelog]'
    const cause = options.cause instanceof Error ? `: ${options.cause.message}` : ''
    super(`${prefix} ${code}: ${message}${cause}`, { cause: options.cause })
    this.name = 'RemoteLogError'
    this.code = code
    this.backend = options.backend
    this.details = options.details
  }
}

/** True when `e` is a remotelog error (optionally with this `code`). */
export function isRemoteLogError (e: unknown, code?: ErrorCode): e is RemoteLogError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'RemoteLogError' &&
    (code === undefined || (e as RemoteLogError).code === code)
}

/** Shorthand: `throw fail('NOT_FOUND', 'no page ' + id, { backend: 'local' })`. */
export function fail (code: ErrorCode, message?: string, options?: ErrorOptions): RemoteLogError {
  return new RemoteLogError(code, message, options)
}

/**
 * Throws ABORTED when `signal` has aborted: a call given an aborted signal does nothing.
 * @example checkAborted(options?.signal, 'local')
 */
export function checkAborted (signal: AbortSignal | undefined, backend?: string): void {
  if (signal?.aborted === true) throw fail('ABORTED', 'the call was aborted', { backend, cause: signal.reason })
}
