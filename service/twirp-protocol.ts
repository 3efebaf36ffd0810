import { create, fromBinary, fromJsonString, isMessage, toBinary, toJsonString, type DescMessage, type DescMethod, type DescMethodUnary, type MessageShape } from '@bufbuild/protobuf'
import { createContextValues, type ContextValues, type HandlerContext, type ServiceImplSpec } from '@connectrpc/connect'
import {
  contentTypeMatcher, createAsyncIterable,
  type ProtocolHandlerFactory, type UniversalHandler, type UniversalServerRequest, type UniversalServerResponse
} from '@connectrpc/connect/protocol'
import { fail, isRemoteLogError } from '../core/errors.js'
import {
  bodyFormat, CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, isTwirpError, JSON_READ_OPTIONS, JSON_WRITE_OPTIONS, TWIRP_CONTENT_TYPE, TWIRP_PREFIX, TwirpError
} from './twirp-wire.js'

export interface TwirpHandlerOptions {
  /** Turns whatever an implementation throws into the Twirp error sent back. */
  toTwirpError: (e: unknown) => TwirpError
  /**
   * Runs once the headers are in, before the body is read (e.g. to refuse unauthenticated writes
   * cheaply): the method called and the request's headers by lower-case name.
   */
  requestGate?: (method: DescMethod, header: (name: string) => string | undefined) => void | Promise<void>
}

/** One unary method served over Twirp: its route, its body limit and its implementation. */
export interface TwirpRoute {
  /** `/twirp/<package>.<Service>/<Method>`. */
  readonly requestPath: string
  readonly method: DescMethodUnary
  /** Largest request body read; a bigger one is refused before or while reading it. */
  readonly maxBodyBytes: number
  readonly allowedMethods: readonly string[]
  readonly supportedContentType: (contentType: string | null) => boolean
  readonly impl: (input: MessageShape<DescMessage>, context: HandlerContext) => unknown
}

/** A request as the Twirp handling needs it, whatever carries it (a Node request, a Connect universal request). */
export interface TwirpCall {
  /** The HTTP method. */
  readonly httpMethod: string
  /** The request URL (for `HandlerContext.url`). */
  readonly url: string
  readonly contentType: string | undefined
  /** A request header by lower-case name. */
  header (name: string): string | undefined
  /** Every request header, for `HandlerContext.requestHeader` (built only when a handler asks). */
  headers (): Headers
  /** The whole body; TOO_LARGE past `limit` bytes (then the rest is left unread). */
  readBody (limit: number): Promise<Uint8Array>
  /** Aborted when the client goes away or the service gives up on the request. */
  readonly signal: AbortSignal
  readonly values: ContextValues
}

/** What to send back. `close`: the body was not read, so the connection is not reusable. */
export interface TwirpAnswer {
  status: number
  headers: Record<string, string>
  body: Uint8Array
  close: boolean
}

const protocolName = 'twirp'
const textDecoder = new TextDecoder('utf-8', { fatal: true })
const supportedContentType = contentTypeMatcher(TWIRP_CONTENT_TYPE)
const allowedMethods = ['POST'] as const

/**
 * The routes of a Connect service implementation (`createServiceImplSpec`: typed implementations,
 * paths from the generated descriptors), served with Twirp's wire format by `answerTwirp`.
 * @example const routes = twirpRoutes(createServiceImplSpec(CAS, casService(cas)), 2 * 1024 * 1024)
 */
export function twirpRoutes (spec: ServiceImplSpec, maxBodyBytes: number): TwirpRoute[] {
  return Object.values(spec.methods).map(method => {
    if (method.kind !== 'unary') throw new Error(`Twirp serves unary methods only; ${method.method.parent.typeName}.${method.method.name} streams`)
    return {
      requestPath: `${TWIRP_PREFIX}/${method.method.parent.typeName}/${method.method.name}`,
      method: method.method,
      maxBodyBytes,
      allowedMethods,
      supportedContentType,
      impl: method.impl as TwirpRoute['impl']
    }
  })
}

/**
 * The route of a request by path, or Twirp's `bad_route` when none takes it: unknown path, a method
 * other than POST, or a Content-Type Twirp does not speak.
 */
export function pickRoute<R extends Pick<TwirpRoute, 'allowedMethods' | 'supportedContentType'>> (
  routes: ReadonlyMap<string, R>, method: string, path: string, contentType: string | null
): R | TwirpError {
  const route = routes.get(path)
  if (route === undefined) return new TwirpError('bad_route', `no handler for path ${JSON.stringify(path)}`, { twirp_invalid_route: `${method} ${path}` })
  if (!route.allowedMethods.includes(method)) return new TwirpError('bad_route', `unsupported method ${method} (only POST is allowed)`, { twirp_invalid_route: `${method} ${path}` })
  if (!route.supportedContentType(contentType)) return unexpectedContentType(contentType)
  return route
}

function unexpectedContentType (contentType: string | null | undefined): TwirpError {
  return new TwirpError('bad_route', `unexpected Content-Type: ${JSON.stringify(contentType ?? '')}`)
}

/** A Twirp error answer; `close` asks the client to drop the connection (its body was not read). */
export function twirpErrorAnswer (error: TwirpError, close = false): TwirpAnswer {
  const body = Buffer.from(error.toJson())
  return { status: error.status, headers: { 'content-type': CONTENT_TYPE_JSON, 'content-length': String(body.byteLength) }, body, close }
}

/**
 * Serves one Twirp call: checks the gate, reads and decodes the body (within the route's limit),
 * runs the implementation and encodes its answer in the request's format, or answers the Twirp
 * error for whatever failed. Never throws.
 */
export async function answerTwirp (route: TwirpRoute, call: TwirpCall, options: TwirpHandlerOptions): Promise<TwirpAnswer> {
  const format = bodyFormat(call.contentType)
  if (format === undefined) return twirpErrorAnswer(unexpectedContentType(call.contentType), true)
  const { context, setHeaders } = handlerContext(route, call)
  let bodyRead = false
  try {
    if (options.requestGate !== undefined) await options.requestGate(route.method, (name) => call.header(name))
    const declared = Number(call.header('content-length') ?? NaN)
    if (declared > route.maxBodyBytes) throw tooLarge(route.maxBodyBytes)
    const bytes = await call.readBody(route.maxBodyBytes)
    bodyRead = true
    const input = decode(route.method.input, format, bytes)
    const result = await route.impl(input, context)
    const output = route.method.output
    const message = isMessage(result, output) ? result : create(output, result as never)
    const body = format === 'protobuf' ? toBinary(output, message) : Buffer.from(toJsonString(output, message, JSON_WRITE_OPTIONS))
    const headers: Record<string, string> = {}
    setHeaders()?.forEach((value, key) => { headers[key] = value })
    headers['content-type'] = format === 'protobuf' ? CONTENT_TYPE_PROTOBUF : CONTENT_TYPE_JSON
    headers['content-length'] = String(body.byteLength)
    return { status: 200, headers, body, close: false }
  } catch (e) {
    // Once the request is cancelled, what the backend threw for it (an AbortError of its own
    // making, say) says less than why it was cancelled: the client left, or the service stops.
    const cause = call.signal.aborted && !isRemoteLogError(e) && !isTwirpError(e) ? call.signal.reason : e
    return twirpErrorAnswer(options.toTwirpError(cause), !bodyRead)
  }
}

function tooLarge (limit: number): Error {
  return fail('TOO_LARGE', `request body exceeds the ${limit}-byte limit`)
}

/**
 * The context an implementation gets: Connect's HandlerContext, built for one call without the
 * parts nobody reads per request (header copies are made when first asked for), and the response
 * headers the implementation set, if it set any.
 */
function handlerContext (route: TwirpRoute, call: TwirpCall): { context: HandlerContext, setHeaders: () => Headers | undefined } {
  let requestHeader: Headers | undefined
  let responseHeader: Headers | undefined
  let responseTrailer: Headers | undefined
  const context: HandlerContext = {
    method: route.method,
    service: route.method.parent,
    protocolName,
    requestMethod: call.httpMethod,
    url: call.url,
    signal: call.signal,
    timeoutMs: () => undefined,
    values: call.values,
    get requestHeader () { return (requestHeader ??= call.headers()) },
    get responseHeader () { return (responseHeader ??= new Headers()) },
    get responseTrailer () { return (responseTrailer ??= new Headers()) }
  }
  // Twirp has no trailers: what an implementation sets there is dropped, as before.
  return { context, setHeaders: () => responseHeader }
}

function decode<Desc extends DescMessage> (schema: Desc, format: 'protobuf' | 'json', bytes: Uint8Array): MessageShape<Desc> {
  try {
    return format === 'protobuf'
      ? fromBinary(schema, bytes)
      : fromJsonString(schema, textDecoder.decode(bytes), JSON_READ_OPTIONS)
  } catch (cause) {
    const reason = cause instanceof Error ? `: ${cause.message}` : ''
    throw new TwirpError('malformed', `the ${format} request body could not be decoded as ${schema.typeName}${reason}`, {}, { cause })
  }
}

/**
 * The same Twirp handling as a Connect protocol handler factory, for Connect's universal handlers
 * (`createUniversalServiceHandlers`): what a Connect server adapter, or a test without a socket, plugs in.
 * The service itself (server.ts) calls `answerTwirp` straight from Node's request.
 * @example
 * const handlers = createUniversalServiceHandlers(createServiceImplSpec(CAS, impl), [twirpHandlerFactory({ ...options, maxBodyBytes })])
 */
export function twirpHandlerFactory (options: TwirpHandlerOptions & { maxBodyBytes: number, shutdownSignal?: AbortSignal }): ProtocolHandlerFactory {
  function factory (spec: Parameters<ProtocolHandlerFactory>[0]): UniversalHandler {
    const [route] = twirpRoutes({ service: spec.method.parent, methods: { [spec.method.localName]: spec } }, options.maxBodyBytes)
    const handle = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
      const signal = options.shutdownSignal === undefined ? req.signal : AbortSignal.any([req.signal, options.shutdownSignal])
      const answer = await answerTwirp(route, {
        httpMethod: req.method,
        url: req.url,
        contentType: req.header.get('content-type') ?? undefined,
        header: (name) => req.header.get(name) ?? undefined,
        headers: () => new Headers(req.header),
        readBody: async (limit) => await readIterable(req.body, limit),
        signal,
        values: req.contextValues ?? createContextValues()
      }, options)
      const header = new Headers(answer.headers)
      if (answer.close) header.set('connection', 'close')
      return { status: answer.status, header, body: createAsyncIterable([answer.body]) }
    }
    return Object.assign(handle, {
      protocolNames: [protocolName],
      supportedContentType,
      allowedMethods: [...allowedMethods],
      requestPath: route.requestPath,
      service: spec.method.parent,
      method: spec.method
    })
  }
  factory.protocolName = protocolName
  return factory
}

async function readIterable (body: unknown, limit: number): Promise<Uint8Array> {
  if (typeof body !== 'object' || body === null || !(Symbol.asyncIterator in body)) {
    throw new TwirpError('malformed', 'the request body is not a byte stream')
  }
  // Iterated by hand: leaving a `for await` would destroy the socket before the error is sent.
  // Past the limit the rest is left unread; the error response closes the connection.
  const chunks: Uint8Array[] = []
  let size = 0
  const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
    size += next.value.byteLength
    if (size > limit) throw tooLarge(limit)
    chunks.push(next.value)
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}
