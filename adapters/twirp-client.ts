import { setTimeout as sleep } from 'node:timers/promises'
import { create, fromBinary, fromJsonString, toBinary, toJsonString } from '@bufbuild/protobuf'
import { createClient, type Client, type Transport } from '@connectrpc/connect'
import type { DescService } from '@bufbuild/protobuf'
import { fail } from '../core/errors.js'
import { fromTwirpError, RETRYABLE_TWIRP_CODES } from '../service/error-codes.js'
import { DEFAULT_MAX_BODY_BYTES } from '../service/limits.js'
import {
  bodyFormat, CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, errorFromResponse, isTwirpError,
  JSON_READ_OPTIONS, JSON_WRITE_OPTIONS, TWIRP_PREFIX, TwirpError
} from '../service/twirp-wire.js'

export interface TwirpClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:7878` (routes are under `/twirp/`). */
  url: string
  /** Bearer token sent with every call (the service may require it for CAS writes). */
  token?: string
  /** Per attempt. Default 10 s. */
  timeoutMs?: number
  /** Extra attempts for a call that failed in a way worth retrying. Default 3. */
  retries?: number
  /** First backoff; doubles per retry, with jitter. Default 100 ms. */
  backoffMs?: number
  /** Body encoding. Default protobuf. */
  format?: 'protobuf' | 'json'
  /** Largest response accepted. Default 2 MiB. */
  maxResponseBytes?: number
}

/**
 * A Connect transport that speaks Twirp: each unary call is one `POST /twirp/<pkg>.<Service>/<Method>`
 * with a protobuf or JSON body. Non-200 answers throw a TwirpError (from the body, or derived from
 * the HTTP status when a proxy answered); network failures throw `unavailable`, timeouts
 * `deadline_exceeded`, the caller's abort `canceled`.
 * @example const cas = createClient(CAS, twirpTransport({ url: 'http://127.0.0.1:7878' }))
 */
export function twirpTransport (options: TwirpClientOptions): Transport {
  const base = options.url.replace(/\/+$/, '')
  const format = options.format ?? 'protobuf'
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_BODY_BYTES
  return {
    async unary (method, signal, timeoutMs, header, input) {
      const request = create(method.input, input)
      const headers = new Headers(header)
      headers.set('content-type', format === 'protobuf' ? CONTENT_TYPE_PROTOBUF : CONTENT_TYPE_JSON)
      if (options.token !== undefined) headers.set('authorization', `Bearer ${options.token}`)
      const timeout = AbortSignal.timeout(timeoutMs ?? options.timeoutMs ?? 10_000)
      const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
      const route = `${TWIRP_PREFIX}/${method.parent.typeName}/${method.name}`
      try {
        const response = await fetch(`${base}${route}`, {
          method: 'POST',
          headers,
          body: format === 'protobuf' ? toBinary(method.input, request) : toJsonString(method.input, request, JSON_WRITE_OPTIONS),
          signal: both,
          redirect: 'manual'
        })
        const body = await readLimited(response, maxBytes)
        if (response.status !== 200) throw errorFromResponse(response.status, new TextDecoder().decode(body))
        const answered = bodyFormat(response.headers.get('content-type'))
        if (answered !== format) throw new TwirpError('malformed', `${route} answered Content-Type ${String(response.headers.get('content-type'))}`, {}, { origin: 'client' })
        let message
        try {
          message = format === 'protobuf'
            ? fromBinary(method.output, body)
            : fromJsonString(method.output, new TextDecoder('utf-8', { fatal: true }).decode(body), JSON_READ_OPTIONS)
        } catch (cause) {
          throw new TwirpError('malformed', `${route} answered a body that is not a ${method.output.typeName}`, {}, { cause, origin: 'client' })
        }
        return { stream: false as const, service: method.parent, method, header: response.headers, trailer: new Headers(), message }
      } catch (e) {
        if (isTwirpError(e)) throw e
        if (signal?.aborted === true) throw new TwirpError('canceled', `${route} was cancelled`, {}, { origin: 'client' })
        if (timeout.aborted) throw new TwirpError('deadline_exceeded', `${base}${route} gave no answer within the timeout`, {}, { origin: 'client' })
        throw new TwirpError('unavailable', `cannot reach ${base}${route} (${causeText(e)})`, {}, { cause: e, origin: 'client' })
      }
    },
    async stream () {
      throw new TwirpError('unimplemented', 'Twirp has no streaming calls', {}, { origin: 'client' })
    }
  }
}

/** A generated (Connect) client of `service` over the Twirp transport. */
export function twirpServiceClient<S extends DescService> (service: S, options: TwirpClientOptions): Client<S> {
  try {
    const url = new URL(options.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`)
  } catch (cause) {
    throw fail('INVALID_CONFIG', `twirp url must be an http(s) URL, got ${JSON.stringify(options.url)}`, { backend: 'twirp', cause })
  }
  return createClient(service, twirpTransport(options))
}

/**
 * Runs one idempotent call with retries: on `unavailable`, `resource_exhausted` and timeouts it
 * tries again after an exponential backoff with jitter, up to `retries` more times, unless the
 * caller aborted. Failures become remotelog errors naming `backend`.
 */
export async function callWithRetries<T> (
  options: TwirpClientOptions,
  backend: string,
  signal: AbortSignal | undefined,
  call: (signal: AbortSignal | undefined) => Promise<T>
): Promise<T> {
  const retries = options.retries ?? 3
  const backoff = options.backoffMs ?? 100
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(signal)
    } catch (e) {
      const error = isTwirpError(e) ? e : new TwirpError('unknown', causeText(e), {}, { cause: e, origin: 'client' })
      const retryable = RETRYABLE_TWIRP_CODES.has(error.code) || error.code === 'deadline_exceeded'
      if (!retryable || attempt >= retries || signal?.aborted === true) throw fromTwirpError(error, backend)
      const delay = Math.min(backoff * 2 ** attempt, 5_000)
      try {
        await sleep(delay / 2 + Math.random() * delay / 2, undefined, { signal })
      } catch {
        throw fromTwirpError(new TwirpError('canceled', 'cancelled while waiting to retry', {}, { origin: 'client' }), backend)
      }
    }
  }
}

async function readLimited (response: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN)
  if (declared > limit) {
    await response.body?.cancel()
    throw new TwirpError('malformed', `response of ${declared} bytes exceeds the ${limit}-byte limit`, {}, { origin: 'client' })
  }
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (let read = await reader.read(); read.done !== true; read = await reader.read()) {
    size += read.value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw new TwirpError('malformed', `response exceeds the ${limit}-byte limit`, {}, { origin: 'client' })
    }
    chunks.push(read.value)
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

function causeText (e: unknown): string {
  const cause = (e as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e))
}
