import { create, type KuboRPCClient } from 'kubo-rpc-client'
import type { CID } from 'multiformats/cid'
import type { CallOptions, ContentStore, LogHeads } from '../../core/content-store.js'
import { fail, isRemoteLogError, type RemoteLogError } from '../../core/errors.js'
import { checkSize, cidOf, toCid, verifyBytes } from '../../core/ids.js'
import { checkLogId } from './log-heads.js'

const BACKEND = 'kubo'
/** Extra time the client waits beyond the node's own `timeout`, so the node can answer it first. */
const CLIENT_GRACE_MS = 1000
/** Where the node's MFS holds the head of each log stored on it (see `LogHeads`). */
const HEADS_DIR = '/remotelog/log-heads'

export interface KuboCasOptions {
  /** The node's RPC API, e.g. `http://127.0.0.1:5001` (`/api/v0` is added when no path is given). */
  url: string
  /** Extra HTTP headers on every call, e.g. `{ authorization: 'Bearer …' }` for an RPC behind auth. */
  headers?: Record<string, string>
  /**
   * Bound on each call (default 10 000 ms), passed to the node as its own `timeout`. A get of a block
   * the node does not produce in time is TIMEOUT: an online node may still be searching the network.
   */
  timeoutMs?: number
}

/** The Kubo CAS plus the node's garbage collection. */
export interface KuboContentStore extends ContentStore {
  /** The RPC URL in use. */
  readonly url: string
  /** Unpins and removes the block from the node. */
  delete (id: CID, options?: CallOptions): Promise<void>
  isPinned (id: CID, options?: CallOptions): Promise<boolean>
  /** Runs the node's `repo gc`: frees every unpinned block. Returns how many were freed. */
  gc (options?: CallOptions): Promise<number>
}

function validate (options: KuboCasOptions): { url: string, headers: Record<string, string>, timeoutMs: number } {
  const o = (options ?? {}) as unknown as Record<string, unknown>
  let url: URL
  try {
    if (typeof o.url !== 'string') throw new Error('missing')
    url = new URL(o.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
  } catch (cause) {
    throw fail('INVALID_CONFIG', `url must be the http(s) URL of a Kubo RPC API, e.g. http://127.0.0.1:5001 (got ${String(o.url)})`, { backend: BACKEND, cause })
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/v0'
  const headers = o.headers ?? {}
  if (typeof headers !== 'object' || headers === null || !Object.values(headers).every(v => typeof v === 'string')) {
    throw fail('INVALID_CONFIG', 'headers must map header names to strings', { backend: BACKEND })
  }
  const timeoutMs = o.timeoutMs ?? 10_000
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw fail('INVALID_CONFIG', 'timeoutMs must be a positive number', { backend: BACKEND })
  return { url: url.toString().replace(/\/$/, ''), headers: headers as Record<string, string>, timeoutMs }
}

function errorName (e: unknown): string {
  return (e as { name?: string })?.name ?? ''
}

function isTimeout (e: unknown): boolean {
  return errorName(e) === 'TimeoutError' || errorName((e as { cause?: unknown })?.cause) === 'TimeoutError'
}

function isMissing (e: unknown): boolean {
  return /not found|could not find|no such block|not pinned/i.test((e as Error)?.message ?? '')
}

/**
 * The node itself answered that it has no such block (Kubo: HTTP 500 "block was not found locally",
 * "ipld: could not find …"). A 404 is not that answer: it comes from a URL that is not the RPC API.
 */
function isMissingAnswer (e: unknown): boolean {
  const status = (e as { response?: { status?: number } })?.response?.status
  return status !== undefined && status !== 404 && isMissing(e)
}

/** An operation called with an already-aborted signal sends nothing and fails with ABORTED. */
function notAborted (callOptions: CallOptions | undefined, what: string): void {
  if (callOptions?.signal?.aborted === true) throw fail('ABORTED', what, { backend: BACKEND, cause: callOptions.signal.reason })
}

/**
 * A CAS on an IPFS node's HTTP RPC API (Kubo, or anything that speaks `/api/v0`), through
 * kubo-rpc-client. Stores raw blocks as CIDv1, checks every CID the node returns against the one
 * computed here, pins what it stores and verifies every block it reads. Every call is bounded by
 * `timeoutMs`. Errors say what happened: NOT_FOUND only when the node answered that it has no such
 * block; a block it did not produce in time, or a node that did not answer, is TIMEOUT; an
 * unreachable node is UNAVAILABLE.
 * @example
 * const cas = kuboCas({ url: 'http://127.0.0.1:5001' })
 * const id = await cas.put(new TextEncoder().encode('hi'))
 */
export function kuboCas (options: KuboCasOptions): KuboContentStore {
  const { url, headers, timeoutMs } = validate(options)
  const client: KuboRPCClient = create({ url, headers })

  /** Options for one RPC: the node's own timeout plus a client-side bound (the client enforces none). */
  const call = (callOptions?: CallOptions, bound = AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS)): { timeout: number, signal: AbortSignal } => {
    return { timeout: timeoutMs, signal: callOptions?.signal === undefined ? bound : AbortSignal.any([callOptions.signal, bound]) }
  }

  const wrap = (e: unknown, what: string, callOptions?: CallOptions): RemoteLogError => {
    if (isRemoteLogError(e)) return e
    if (callOptions?.signal?.aborted === true) return fail('ABORTED', what, { backend: BACKEND, cause: e })
    if (isTimeout(e)) return fail('TIMEOUT', `${what}: no answer from ${url} within ${timeoutMs} ms`, { backend: BACKEND, cause: e })
    const status = (e as { response?: { status?: number } })?.response?.status
    if (status === 401 || status === 403) {
      return fail('INVALID_CONFIG', `${what}: ${url} refused the request (HTTP ${status}); check the auth headers`, { backend: BACKEND, cause: e })
    }
    if (status === undefined) return fail('UNAVAILABLE', `${what}: cannot reach the IPFS RPC API at ${url}`, { backend: BACKEND, cause: e })
    return fail('UNAVAILABLE', `${what}: ${url} answered HTTP ${status}`, { backend: BACKEND, cause: e })
  }

  const unpinStored = async (id: CID, callOptions?: CallOptions): Promise<void> => {
    try {
      await client.pin.rm(id, call(callOptions))
    } catch (e) {
      if (!isMissing(e)) throw wrap(e, `pin rm ${id.toString()}`, callOptions)
    }
  }

  /** Log heads as small files in the node's MFS, which its gc keeps: one node may serve many logs. */
  const heads: LogHeads = {
    async record (logId, head, callOptions) {
      checkLogId(logId)
      try {
        await client.files.write(`${HEADS_DIR}/${logId}`, head.toString(), { create: true, parents: true, truncate: true, ...call(callOptions) })
      } catch (e) {
        throw wrap(e, `files write ${HEADS_DIR}/${logId}`, callOptions)
      }
    },
    async list (callOptions) {
      const found: Array<{ logId: string, head: CID }> = []
      try {
        for await (const entry of client.files.ls(HEADS_DIR, call(callOptions))) {
          const chunks: Uint8Array[] = []
          for await (const chunk of client.files.read(`${HEADS_DIR}/${entry.name}`, call(callOptions))) chunks.push(chunk)
          found.push({ logId: entry.name, head: toCid(Buffer.concat(chunks).toString()) })
        }
      } catch (e) {
        if (/does not exist|not found/i.test((e as Error)?.message ?? '')) return found
        throw wrap(e, `files ls ${HEADS_DIR}`, callOptions)
      }
      return found
    }
  }

  return {
    backend: BACKEND,
    capabilities: { delete: true },
    url,
    heads,

    async put (bytes, callOptions) {
      checkSize(bytes, BACKEND)
      const expected = cidOf(bytes)
      notAborted(callOptions, `block put ${expected.toString()}`)
      let returned: CID | undefined
      // A put of content-addressed bytes is idempotent: a server error (seen from js-ipfs under
      // load) is retried twice before it is reported.
      for (let attempt = 1; returned === undefined; attempt++) {
        try {
          returned = await client.block.put(bytes, { format: 'raw', mhtype: 'sha2-256', version: 1, pin: true, ...call(callOptions) })
        } catch (e) {
          const status = (e as { response?: { status?: number } })?.response?.status ?? 0
          if (attempt < 3 && status >= 500 && callOptions?.signal?.aborted !== true) continue
          throw wrap(e, `block put ${expected.toString()}`, callOptions)
        }
      }
      if (returned.toString() !== expected.toString()) {
        throw fail('INTEGRITY', `${url} stored the bytes as ${returned.toString()}, expected ${expected.toString()}`, { backend: BACKEND })
      }
      return expected
    },

    async get (id, callOptions) {
      notAborted(callOptions, `block get ${id.toString()}`)
      const bound = AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS)
      let bytes: Uint8Array
      try {
        bytes = await client.block.get(id, call(callOptions, bound))
      } catch (e) {
        if (callOptions?.signal?.aborted !== true) {
          if (isMissingAnswer(e)) throw fail('NOT_FOUND', `${url} has no object ${id.toString()}`, { backend: BACKEND, cause: e })
          if (isTimeout(e) && !bound.aborted) {
            // The node answered its own timeout: it was still looking (js-ipfs answers every missing
            // block this way; an online Kubo searches the network). Not an answer that it is missing.
            throw fail('TIMEOUT', `${url} did not produce ${id.toString()} within ${timeoutMs} ms`, { backend: BACKEND, cause: e, details: { timeoutMs } })
          }
        }
        throw wrap(e, `block get ${id.toString()}`, callOptions)
      }
      return verifyBytes(id, bytes, BACKEND)
    },

    async has (id, callOptions) {
      notAborted(callOptions, `block stat ${id.toString()}`)
      const bound = AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS)
      try {
        // offline: a real Kubo answers from its own repo at once instead of searching the network.
        await client.block.stat(id, { ...call(callOptions, bound), offline: true } as never)
        return true
      } catch (e) {
        if (callOptions?.signal?.aborted !== true) {
          if (isMissingAnswer(e)) return false
          // js-ipfs ignores `offline` and answers a stat of a block it lacks only with its own timeout:
          // the node did answer, about its own repo. A node that does not answer at all is TIMEOUT (wrap).
          if (isTimeout(e) && !bound.aborted) return false
        }
        throw wrap(e, `block stat ${id.toString()}`, callOptions)
      }
    },

    // A replaced head page may be in a peer's want list right now: unpin it, the node's gc frees it.
    release: unpinStored,

    async delete (id, callOptions) {
      await unpinStored(id, callOptions)
      try {
        for await (const removed of client.block.rm(id, { ...call(callOptions), force: true })) {
          if (removed.error !== undefined && !isMissing(removed.error)) throw removed.error
        }
      } catch (e) {
        if (!isMissing(e)) throw wrap(e, `block rm ${id.toString()}`, callOptions)
      }
    },

    async isPinned (id, callOptions) {
      try {
        for await (const pin of client.pin.ls({ paths: id, ...call(callOptions) })) {
          if (pin.cid.equals(id)) return true
        }
        return false
      } catch (e) {
        if (isMissing(e)) return false
        throw wrap(e, `pin ls ${id.toString()}`, callOptions)
      }
    },

    async gc (callOptions) {
      let freed = 0
      try {
        // gc walks the whole repo: bound it by the caller's signal only.
        for await (const result of client.repo.gc({ signal: callOptions?.signal })) {
          if (result.err !== undefined && result.err !== null) throw result.err
          freed++
        }
      } catch (e) {
        throw wrap(e, 'repo gc', callOptions)
      }
      return freed
    },

    async close () {}
  }
}
