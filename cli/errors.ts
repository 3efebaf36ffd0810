import { isRemoteLogError, type ErrorCode } from '../core/errors.js'

/** Exit status by error code, so scripts can tell failures apart. */
const exitCodes: Record<ErrorCode, number> = {
  INVALID_INPUT: 2,
  INVALID_CONFIG: 3,
  NOT_FOUND: 4,
  PERMISSION: 5,
  CONFLICT: 6,
  INTEGRITY: 7,
  MALFORMED: 7,
  TOO_LARGE: 8,
  UNAVAILABLE: 9,
  TIMEOUT: 9,
  ABORTED: 10
}

/** Prints one line (or a JSON object with --json) for an error and exits non-zero. */
export function exitWithError (error: unknown, json: boolean): never {
  const code = isRemoteLogError(error) ? error.code : 'INTERNAL'
  const message = error instanceof Error ? error.message.replace(/^\[remotelog\] /, '') : String(error)
  const line = message.split('\n')[0]
  if (json) process.stdout.write(JSON.stringify({ error: { code, message: line } }) + '\n')
  process.stderr.write(`remotelog: ${line}\n`)
  if (process.env.REMOTELOG_DEBUG !== undefined && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`)
  process.exit(isRemoteLogError(error) ? exitCodes[error.code] : 1)
}
