// The wire format between the CLI and `remotelog daemon` (cli/daemon-server.ts, cli/daemon-client.ts):
// newline-delimited JSON over a Unix socket in the state dir. Kept free of backends and of the core's
// heavy modules: the CLI loads it on every command that goes through the daemon.
//
// client → daemon   {id, method, args}           call an Endpoint method (or hello, fsck, daemon.status, daemon.stop)
//                   {id, abort: true}            the call's AbortSignal aborted
//                   {id, credit: n}              a stream (read, watch) may send n more items
//                   {id, cancel: true}           the stream's consumer stopped (break, process exit)
// daemon → client   {id, t: 'value', value?}     the call's result
//                   {id, t: 'error', error}      the call failed (the error, recreated with its code)
//                   {id, t: 'item', value}       one item of a stream
//                   {id, t: 'end'}               the stream ended
//                   {id, t: 'callback', fn, args}  a function-valued option (onProgress, onRetry, onScrub) was called
//
// Values: JSON, with tagged objects for what JSON lacks: {$bytes: base64}, {$bigint: '…'},
// {$cid: 'bafk…'} (revived with CID.parse), {$error: {…}}, {$undefined: 1} (in arrays),
// {$number: 'NaN'}, {$date: iso}, and in calls {$fn: key} (a function) and {$signal: 1} (an AbortSignal).
import { CID } from 'multiformats/cid'
import { fail, RemoteLogError, type ErrorCode } from '../core/errors.js'

/** Bumped on any incompatible change; a client and a daemon of different protocols do not talk. */
export const PROTOCOL = 1
/** The socket's file name in the state dir. */
export const SOCKET_NAME = 'daemon.sock'
/** Items a stream may send before the client grants more. */
export const STREAM_CREDIT = 256

/** Endpoint methods the daemon answers with one value. */
export const CALLS = ['append', 'publish', 'rebase', 'address', 'logs', 'logStatus', 'follow', 'unfollow', 'following', 'sync', 'syncAll', 'scrub', 'exportPack', 'importPack'] as const
/** Endpoint methods that are async generators: their items are streamed. */
export const STREAMS = ['read', 'watch'] as const

/** What `hello` answers: who the daemon is and what it serves. */
export interface DaemonHello {
  protocol: number
  pid: number
  version: string
  /** The state dir (absolute). */
  dir: string
  /** The config file it opened (real path) and its identity when opened (`dev:ino:size:mtime`). */
  config: string
  configStamp: string
  cas: string
  ns: string
}

/** What `daemon.status` answers. */
export interface DaemonStatus extends DaemonHello {
  socket: string
  startedAt: string
  uptimeMs: number
  /** Endpoint calls served since it started (hello and daemon.* not counted). */
  requests: number
  /** Calls running now, and clients connected now. */
  active: number
  connections: number
}

export interface EncodeHooks {
  fn?: (fn: (...args: unknown[]) => unknown, path: string) => string
  signal?: (signal: AbortSignal) => void
}

function isPlainObject (value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** A value as JSON-safe data (see the header). */
export function encode (value: unknown, hooks: EncodeHooks = {}, path = ''): unknown {
  switch (typeof value) {
    case 'string': case 'boolean': return value
    case 'number': return Number.isFinite(value) ? value : { $number: String(value) }
    case 'bigint': return { $bigint: value.toString() }
    case 'undefined': return { $undefined: 1 }
    case 'function':
      if (hooks.fn === undefined) throw fail('INVALID_INPUT', `cannot send a function (${path}) to the daemon`)
      return { $fn: hooks.fn(value as (...args: unknown[]) => unknown, path) }
    case 'symbol': return undefined
  }
  if (value === null) return null
  const object = value as object
  if (object instanceof Uint8Array) return { $bytes: Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64') }
  const cid = CID.asCID(object)
  if (cid !== null) return { $cid: cid.toString() }
  if (object instanceof Error) return { $error: encodeError(object) }
  if (object instanceof Date) return { $date: object.toISOString() }
  if (typeof AbortSignal !== 'undefined' && object instanceof AbortSignal) {
    hooks.signal?.(object)
    return { $signal: 1 }
  }
  if (Array.isArray(object)) return object.map((v, i) => encode(v, hooks, `${path}.${i}`))
  if (!isPlainObject(object) && typeof (object as { toJSON?: unknown }).toJSON === 'function') return encode((object as { toJSON: () => unknown }).toJSON(), hooks, path)
  const out: Record<string, unknown> = {}
  let tagged = false
  for (const [k, v] of Object.entries(object)) {
    if (v === undefined) continue
    if (k.startsWith('$')) tagged = true
    out[k] = encode(v, hooks, path === '' ? k : `${path}.${k}`)
  }
  return tagged ? { $object: out } : out
}

export interface DecodeHooks {
  fn?: (key: string) => (...args: unknown[]) => void
  signal?: () => AbortSignal
}

/** The value `encode` made data of. */
export function decode (data: unknown, hooks: DecodeHooks = {}): unknown {
  if (data === null || typeof data !== 'object') return data
  if (Array.isArray(data)) return data.map(v => decode(v, hooks))
  const o = data as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length === 1 && keys[0].startsWith('$')) {
    const v = o[keys[0]]
    switch (keys[0]) {
      case '$bytes': return new Uint8Array(Buffer.from(v as string, 'base64'))
      case '$bigint': return BigInt(v as string)
      case '$cid': return CID.parse(v as string)
      case '$undefined': return undefined
      case '$number': return Number(v)
      case '$date': return new Date(v as string)
      case '$error': return decodeError(v as EncodedError)
      case '$fn':
        if (hooks.fn === undefined) throw fail('MALFORMED', 'a function where none is expected')
        return hooks.fn(v as string)
      case '$signal':
        if (hooks.signal === undefined) throw fail('MALFORMED', 'an AbortSignal where none is expected')
        return hooks.signal()
      case '$object': return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, decode(x, hooks)]))
    }
  }
  return Object.fromEntries(keys.map(k => [k, decode(o[k], hooks)]))
}

interface EncodedError {
  name: string
  message: string
  stack?: string
  code?: string
  backend?: string
  details?: unknown
  /** Node's system errors (ENOENT…): the CLI maps them to exit codes too. */
  syscall?: string
  errno?: number
  path?: string
}

function encodeError (e: Error): EncodedError {
  const x = e as Error & { code?: unknown, backend?: unknown, details?: unknown, syscall?: unknown, errno?: unknown, path?: unknown }
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    code: typeof x.code === 'string' ? x.code : undefined,
    backend: typeof x.backend === 'string' ? x.backend : undefined,
    details: x.details === undefined ? undefined : encode(x.details),
    syscall: typeof x.syscall === 'string' ? x.syscall : undefined,
    errno: typeof x.errno === 'number' ? x.errno : undefined,
    path: typeof x.path === 'string' ? x.path : undefined
  }
}

/** The error as the daemon threw it: a RemoteLogError keeps its code, message and details (so the exit status is the same). */
function decodeError (x: EncodedError): Error {
  let error: Error
  if (x.name === 'RemoteLogError' && typeof x.code === 'string') {
    error = new RemoteLogError(x.code as ErrorCode, '', { backend: x.backend, details: x.details === undefined ? undefined : decode(x.details) as Record<string, unknown> })
    error.message = x.message
  } else {
    error = new Error(x.message)
    error.name = x.name
    Object.assign(error, Object.fromEntries(Object.entries({ code: x.code, syscall: x.syscall, errno: x.errno, path: x.path }).filter(([, v]) => v !== undefined)))
  }
  if (x.stack !== undefined) error.stack = `${x.stack}\n    (in remotelog daemon)`
  return error
}

/** Splits a byte stream into JSON lines (a line may span many chunks; a newline byte is never inside a UTF-8 character). */
export function lineReader (onMessage: (message: Record<string, unknown>) => void, onBad: (error: Error) => void): (chunk: Buffer) => void {
  let pending: Buffer[] = []
  let bad = false
  return chunk => {
    if (bad) return
    let start = 0
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      pending.push(chunk.subarray(start, nl))
      start = nl + 1
      const line = pending.length === 1 ? pending[0].toString('utf8') : Buffer.concat(pending).toString('utf8')
      pending = []
      if (line === '') continue
      let message: unknown
      try {
        message = JSON.parse(line)
      } catch (e) {
        message = e
      }
      if (message === null || typeof message !== 'object' || Array.isArray(message) || message instanceof Error) {
        bad = true
        onBad(message instanceof Error ? message : new Error('not a message object'))
        return
      }
      onMessage(message as Record<string, unknown>)
    }
    if (start < chunk.length) pending.push(chunk.subarray(start))
  }
}
