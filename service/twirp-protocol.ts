import { fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { createHandlerContext, type HandlerContext, type MethodImplSpec } from '@connectrpc/connect'
import {
  contentTypeMatcher, createAsyncIterable, invokeUnaryImplementation,
  type ProtocolHandlerFactory, type UniversalHandler, type UniversalServerRequest, type UniversalServerResponse
} from '@connectrpc/connect/protocol'
import { fail } from '../core/errors.js'
import {
  bodyFormat, CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, JSON_READ_OPTIONS, JSON_WRITE_OPTIONS, TWIRP_CONTENT_TYPE, TWIRP_PREFIX, TwirpError
} from './twirp-wire.js'

export interface TwirpHandlerOptions {
  /** Largest request body read; a bigger one is refused before or while reading it. */
  maxBodyBytes: number
  /** Turns whatever an implementation throws into the Twirp error sent back. */
  toTwirpError: (e: unknown) => TwirpError
  /** Runs once the headers are in, before the body is read (e.g. to refuse unauthenticated writes cheaply). */
  requestGate?: (context: HandlerContext) => void | Promise<void>
  /** Aborted to cancel the handlers still running when a graceful shutdown gives up waiting. */
  shutdownSignal?: AbortSignal
}

const protocolName = 'twirp'
const textDecoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The Twirp protocol as a Connect protocol handler factory: Connect supplies the typed service
 * implementations and routes (`requestPath`, from the generated descriptors); this supplies
 * Twirp's wire format — `POST /twirp/<pkg>.<Service>/<Method>`, `application/protobuf` or
 * `application/json` bodies (proto field names, zero values emitted), Twirp error JSON and statuses.
 * @example
 * const handlers = createUniversalServiceHandlers(createServiceImplSpec(CAS, impl), [twirpHandlerFactory(options)])
 */
export function twirpHandlerFactory (options: TwirpHandlerOptions): ProtocolHandlerFactory {
  function factory (spec: MethodImplSpec): UniversalHandler {
    if (spec.kind !== 'unary') throw new Error(`Twirp serves unary methods only; ${spec.method.parent.typeName}.${spec.method.name} streams`)
    const handle = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => await handleUnary(options, spec, req)
    return Object.assign(handle, {
      protocolNames: [protocolName],
      supportedContentType: contentTypeMatcher(TWIRP_CONTENT_TYPE),
      allowedMethods: ['POST'],
      requestPath: `${TWIRP_PREFIX}/${spec.method.parent.typeName}/${spec.method.name}`,
      service: spec.method.parent,
      method: spec.method
    })
  }
  factory.protocolName = protocolName
  return factory
}

/**
 * The handler of a request, by path (Connect's `requestPath` of each generated method), or Twirp's
 * `bad_route` when none takes it: unknown path, a method other than POST, or a Content-Type Twirp
 * does not speak.
 */
export function pickRoute (routes: ReadonlyMap<string, UniversalHandler>, method: string, path: string, contentType: string | null): UniversalHandler | TwirpError {
  const handler = routes.get(path)
  if (handler === undefined) return new TwirpError('bad_route', `no handler for path ${JSON.stringify(path)}`, { twirp_invalid_route: `${method} ${path}` })
  if (!handler.allowedMethods.includes(method)) return new TwirpError('bad_route', `unsupported method ${method} (only POST is allowed)`, { twirp_invalid_route: `${method} ${path}` })
  if (!handler.supportedContentType(contentType)) return unexpectedContentType(contentType)
  return handler
}

function unexpectedContentType (contentType: string | null): TwirpError {
  return new TwirpError('bad_route', `unexpected Content-Type: ${JSON.stringify(contentType ?? '')}`)
}

/** A Twirp error response; `close` asks the client to drop the connection (its body was not read). */
export function twirpErrorResponse (error: TwirpError, close = false): UniversalServerResponse {
  const body = new TextEncoder().encode(error.toJson())
  const header = new Headers({ 'content-type': CONTENT_TYPE_JSON, 'content-length': String(body.byteLength) })
  if (close) header.set('connection', 'close')
  return { status: error.status, header, body: createAsyncIterable([body]) }
}

async function handleUnary (
  options: TwirpHandlerOptions,
  spec: Extract<MethodImplSpec, { kind: 'unary' }>,
  req: UniversalServerRequest
): Promise<UniversalServerResponse> {
  const format = bodyFormat(req.header.get('content-type'))
  if (format === undefined) return twirpErrorResponse(unexpectedContentType(req.header.get('content-type')), true)
  const context = createHandlerContext({
    service: spec.method.parent,
    method: spec.method,
    protocolName,
    requestMethod: req.method,
    url: req.url,
    shutdownSignal: options.shutdownSignal,
    requestSignal: req.signal,
    requestHeader: req.header,
    contextValues: req.contextValues
  })
  let bodyRead = false
  try {
    await options.requestGate?.(context)
    const bytes = await readBody(req, options.maxBodyBytes)
    bodyRead = true
    const input = decode(spec.method.input, format, bytes)
    const output = await invokeUnaryImplementation(spec, context, input, [])
    const body = format === 'protobuf'
      ? toBinary(spec.method.output, output)
      : new TextEncoder().encode(toJsonString(spec.method.output, output, JSON_WRITE_OPTIONS))
    const header = new Headers(context.responseHeader)
    header.set('content-type', format === 'protobuf' ? CONTENT_TYPE_PROTOBUF : CONTENT_TYPE_JSON)
    header.set('content-length', String(body.byteLength))
    return { status: 200, header, body: createAsyncIterable([body]) }
  } catch (e) {
    context.abort(e)
    return twirpErrorResponse(options.toTwirpError(e), !bodyRead)
  } finally {
    context.abort()
  }
}

async function readBody (req: UniversalServerRequest, limit: number): Promise<Uint8Array> {
  const tooLarge = (): Error => fail('TOO_LARGE', `request body exceeds the ${limit}-byte limit`)
  const declared = Number(req.header.get('content-length') ?? NaN)
  if (declared > limit) throw tooLarge()
  const body = req.body
  if (typeof body !== 'object' || body === null || !(Symbol.asyncIterator in body)) {
    throw new TwirpError('malformed', 'the request body is not a byte stream')
  }
  // Iterated by hand: leaving a `for await` would destroy the socket before the error is sent.
  // Past the limit the rest is left unread; the error response closes the connection.
  const chunks: Uint8Array[] = []
  let size = 0
  const iterator = body[Symbol.asyncIterator]()
  for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
    size += next.value.byteLength
    if (size > limit) throw tooLarge()
    chunks.push(next.value)
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
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
