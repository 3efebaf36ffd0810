import { isRemoteLogError, type ErrorCode } from '../core/errors.js'

/** Exit status by error code, so scripts can tell failures apart (README, CLI). */
export const exitCodes: Record<ErrorCode, number> = {
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

/**
 * A failure the CLI words itself: `message` is the whole line, `extra` goes into the `--json` error
 * object next to `code` and `message` (e.g. `saved`, what an append journaled before its publish failed).
 */
export class CliError extends Error {
  constructor (readonly code: ErrorCode, message: string, readonly extra: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CliError'
  }
}

/** System errors from Node (a file that is missing, a folder that is a file…) by error code. */
const errnoCodes: Record<string, ErrorCode> = {
  ENOENT: 'NOT_FOUND',
  EACCES: 'PERMISSION',
  EPERM: 'PERMISSION',
  ENOTDIR: 'INVALID_INPUT',
  EISDIR: 'INVALID_INPUT'
}

function codeOf (error: unknown): ErrorCode | 'INTERNAL' {
  if (isRemoteLogError(error) || error instanceof CliError) return error.code
  const errno = (error as NodeJS.ErrnoException | undefined)?.code
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string' && errno !== undefined && errnoCodes[errno] !== undefined) return errnoCodes[errno]
  return 'INTERNAL'
}

/** The one line a failure prints: the error's message without the `[remotelog] ` prefix, first line only. */
export function errorLine (error: unknown): string {
  const message = error instanceof Error ? error.message.replace(/^\[remotelog\] /, '') : String(error)
  return message.split('\n')[0]
}

/** The exit status for an error code (1 for anything that is not a remotelog error code). */
export function exitCodeOf (code: string): number {
  return (exitCodes as Record<string, number | undefined>)[code] ?? 1
}

/** Prints one line (or a JSON object with --json) for an error and exits non-zero. */
export function exitWithError (error: unknown, json: boolean): never {
  const code = codeOf(error)
  const line = errorLine(error)
  const extra = error instanceof CliError ? error.extra : {}
  if (json) process.stdout.write(JSON.stringify({ error: { code, message: line, ...extra } }) + '\n')
  process.stderr.write(`remotelog: ${line}\n`)
  if (process.env.REMOTELOG_DEBUG !== undefined && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`)
  process.exit(code === 'INTERNAL' ? 1 : exitCodes[code])
}
