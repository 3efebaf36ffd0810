import { setTimeout as sleep } from 'node:timers/promises'
import { IPNSEntry } from '@helia/ipns'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError, type RemoteLogError } from '../../core/errors.js'
import { KeyedLock } from '../../core/keyed-lock.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishOptions, PublishReceipt, ResolvedHead } from '../../core/name-system.js'
import type { BackendContext } from '../registry.js'
import { startIpnsNode, type IpnsNode } from './ipns-node.js'
import {
  BACKEND, checkRecord, DEFAULT_LIFETIME_MS, DEFAULT_TTL_MS, ipnsKeyOf, ipnsNameOfKey, parseIpnsName, signHeadRecord,
  type CheckedRecord, type IpnsName, type RecordTimes
} from './ipns-record.js'

export interface IpnsNsOptions {
  /**
   * Delegated routing V1 HTTP servers the records go to and come from (`PUT`/`GET
   * /routing/v1/ipns/<name>`): the devnet's hub, or e.g. `https://delegated-ipfs.dev` on the public network.
   */
  routers?: string[]
  /** DHT servers to dial (multiaddrs); the node then publishes and resolves through the DHT as a client. */
  peers?: string[]
  /**
   * Go through an IPFS node's Kubo RPC API instead (`name/publish`, `name/resolve`, the log's key
   * imported with `key/import`): its URL, e.g. `http://127.0.0.1:5001`. See `ipnsKuboNs`.
   */
  kubo?: string
  /** Extra HTTP headers for the `kubo` RPC API. */
  headers?: Record<string, string>
  /** Bound on each routing call (default 10 000 ms). */
  timeoutMs?: number
  /** Validity of each record (its signed end of life) from the publish (default 30 days). */
  lifetimeMs?: number
  /** TTL written in each record: how long IPNS resolvers may answer from cache (default 60 000 ms). */
  ttlMs?: number
  /** How often `watch` resolves (default 500 ms). */
  pollMs?: number
}

/** The `ipns` name system, with the raw record a reader sees. */
export interface IpnsNameSystem extends NameSystem {
  /** The signed IPNS record (protobuf bytes, as IPFS nodes exchange them) the routing holds now for `name`. */
  readRecord (name: string, options?: CallOptions): Promise<Uint8Array>
}

interface Settings extends RecordTimes {
  routers: string[]
  peers: string[]
  timeoutMs: number
  pollMs: number
}

function positive (o: Record<string, unknown>, key: string, fallback: number): number {
  const value = o[key] ?? fallback
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw fail('INVALID_CONFIG', `ipns ${key} must be a positive number of milliseconds`, { backend: BACKEND })
  return value
}

function strings (o: Record<string, unknown>, key: string): string[] {
  const value = o[key] ?? []
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) throw fail('INVALID_CONFIG', `ipns ${key} must be a list of strings`, { backend: BACKEND })
  return value
}

function settings (options: IpnsNsOptions): Settings {
  const o = (options ?? {}) as Record<string, unknown>
  return {
    routers: strings(o, 'routers'),
    peers: strings(o, 'peers'),
    timeoutMs: positive(o, 'timeoutMs', 10_000),
    lifetimeMs: positive(o, 'lifetimeMs', DEFAULT_LIFETIME_MS),
    ttlMs: positive(o, 'ttlMs', DEFAULT_TTL_MS),
    pollMs: positive(o, 'pollMs', 500)
  }
}

/**
 * Opens the `ipns` name system a config describes: over an IPFS node's RPC API when `kubo` is set
 * (see `ipnsKuboNs`), else embedded (see `ipnsNs`). Only the chosen way's packages are loaded.
 * @example const ns = await openIpnsNs({ routers: ['http://127.0.0.1:8080'] }, { stateDir })
 */
export async function openIpnsNs (options: IpnsNsOptions, _context?: BackendContext): Promise<IpnsNameSystem> {
  if (options?.kubo !== undefined) return (await import('./ipns-kubo.js')).ipnsKuboNs({ ...options, url: options.kubo })
  return await ipnsNs(options)
}

const errorsOf = (e: unknown): unknown[] => e instanceof AggregateError ? e.errors.flatMap(errorsOf) : [e]
const isNotFound = (e: unknown): boolean => ['NotFoundError', 'RecordNotFoundError'].includes((e as { name?: string })?.name ?? '')

/**
 * IPNS, embedded: a Helia node (no repo, no blocks: routing only) publishes and resolves records
 * through `@helia/ipns`, over delegated routing HTTP (`routers`) and/or the libp2p DHT (`peers`).
 * A log's name is `k51…`, the libp2p key CID of the ed25519 key derived from the log's secret. Each
 * record is a standard IPNS record built by the `ipns` package: value `/ipfs/<head page CID>` (what a
 * plain IPFS client resolves to the head page; length and revision are in that page's header),
 * sequence = the log's revision, V2 (+V1) signature, EOL = now + `lifetimeMs`, TTL = `ttlMs`.
 * Publish is compare-then-put: PERMISSION for another key's name, CONFLICT when the name is not at
 * `previous` or the revision does not grow (and when a routing refuses it while the name moved).
 * Resolve validates the record, never returns an older sequence than this client saw (CONFLICT),
 * and fails with NOT_FOUND only when every routing answered that it has no record.
 * @example
 * const ns = await ipnsNs({ routers: [devnet.ipns.routingUrl] })
 * const name = await ns.nameOf(owner)               // 'k51qzi5uqu5…'
 * await ns.publish(name, { head, length: 10, revision: 1 }, owner)
 */
export async function ipnsNs (options: IpnsNsOptions): Promise<IpnsNameSystem> {
  const s = settings(options)
  const node: IpnsNode = await startIpnsNode(s)
  const highestSeen = new Map<string, number>()
  const locks = new KeyedLock()
  let closed = false

  const bounded = (callOptions?: CallOptions): AbortSignal => {
    const timeout = AbortSignal.timeout(s.timeoutMs)
    return callOptions?.signal === undefined ? timeout : AbortSignal.any([callOptions.signal, timeout])
  }

  const wrap = (e: unknown, what: string, callOptions?: CallOptions, signal?: AbortSignal): RemoteLogError => {
    if (isRemoteLogError(e)) return e
    if (callOptions?.signal?.aborted === true) return fail('ABORTED', what, { backend: BACKEND, cause: e })
    if (signal?.aborted === true) return fail('TIMEOUT', `${what}: no answer within ${s.timeoutMs} ms`, { backend: BACKEND, cause: e })
    return fail('UNAVAILABLE', `${what}: ${(e as Error)?.message ?? String(e)}`, { backend: BACKEND, cause: e })
  }

  /** The record the routing holds now (the newest of what every router and this client's cache offer). */
  async function current (name: IpnsName, callOptions?: CallOptions): Promise<CheckedRecord | undefined> {
    if (closed) throw fail('UNAVAILABLE', 'this ipns name system is closed', { backend: BACKEND })
    if (callOptions?.signal?.aborted === true) throw fail('ABORTED', `resolve ipns:${name.name}`, { backend: BACKEND, cause: callOptions.signal.reason })
    const signal = bounded(callOptions)
    const routerErrors: unknown[] = []
    try {
      const results = node.ipns.resolve(name.peerId.toMultihash(), {
        nocache: true,
        signal,
        onProgress: (event) => { if (event.type === 'ipns:routing:helia:error') routerErrors.push(...errorsOf(event.detail)) }
      })
      for await (const result of results) return await checkRecord(name, IPNSEntry.encode(result.record))
      return undefined
    } catch (e) {
      if (isRemoteLogError(e)) throw e
      const what = `resolve ipns:${name.name}`
      if ((e as Error).name === 'RecordsFailedValidationError') throw fail('INTEGRITY', `${what}: the routing holds no valid record, only forged or expired ones`, { backend: BACKEND, cause: e })
      if ((e as Error).name !== 'RecordNotFoundError' || signal.aborted) throw wrap(e, what, callOptions, signal)
      const offline = node.offline()
      if (offline !== undefined) throw fail('UNAVAILABLE', `${what}: ${offline}`, { backend: BACKEND, cause: e })
      const failed = routerErrors.find(r => !isNotFound(r))
      if (failed !== undefined) throw wrap(failed, `${what}: a routing did not answer`, callOptions, signal)
      return undefined
    }
  }

  async function resolveRecord (text: string, callOptions?: CallOptions): Promise<CheckedRecord> {
    const name = parseIpnsName(text)
    const record = await current(name, callOptions)
    if (record === undefined) throw fail('NOT_FOUND', `no IPNS record for ipns:${name.name}`, { backend: BACKEND })
    const seen = highestSeen.get(name.name)
    if (seen !== undefined && record.sequence < seen) {
      throw fail('CONFLICT', `ipns:${name.name} rolled back from sequence ${seen} to ${record.sequence}`, { backend: BACKEND })
    }
    highestSeen.set(name.name, record.sequence)
    return record
  }

  async function resolve (text: string, callOptions?: CallOptions): Promise<ResolvedHead> {
    const record = await resolveRecord(text, callOptions)
    return { head: record.head, revision: record.sequence }
  }

  return {
    backend: BACKEND,
    scheme: 'ipns',
    // Length and revision are in the head page; the record carries the revision as its sequence.
    capabilities: { watch: true, records: false },
    resolve,

    async readRecord (text, callOptions) {
      return (await resolveRecord(text, callOptions)).bytes
    },

    async nameOf (owner: OwnerKey): Promise<string> {
      return ipnsNameOfKey(await ipnsKeyOf(owner.secret)).name
    },

    async publish (text: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions = {}): Promise<PublishReceipt> {
      const name = parseIpnsName(text)
      const key = await ipnsKeyOf(owner.secret)
      if (ipnsNameOfKey(key).name !== name.name) throw fail('PERMISSION', `ipns:${name.name} belongs to another key`, { backend: BACKEND })
      if (!Number.isSafeInteger(record.revision) || record.revision < 0) throw fail('INVALID_INPUT', `revision ${record.revision} is not a sequence number`, { backend: BACKEND })
      const receipt = await locks.run(name.name, async () => {
        const existing = await current(name, publishOptions)
        const previous = publishOptions.previous
        if (existing !== undefined && (previous === undefined || !existing.head.equals(previous))) {
          const expected = previous === undefined ? '(none: a first publish)' : String(previous)
          throw fail('CONFLICT', `ipns:${name.name} points at ${existing.head.toString()} (sequence ${existing.sequence}), not at this writer's last head ${expected}`, { backend: BACKEND })
        }
        if (existing !== undefined && record.revision <= existing.sequence) {
          throw fail('CONFLICT', `revision ${record.revision} for ipns:${name.name} is not above the current sequence ${existing.sequence}`, { backend: BACKEND })
        }
        const bytes = await signHeadRecord(key, record, s)
        const signal = bounded(publishOptions)
        try {
          await node.put(name.routingKey, bytes, signal)
        } catch (e) {
          // Refused or failed: if the name moved meanwhile (another client won a race), that is the answer.
          const now = await current(name, publishOptions).catch(() => undefined)
          if (now !== undefined && now.sequence >= record.revision && !now.head.equals(record.head)) {
            throw fail('CONFLICT', `ipns:${name.name} moved to ${now.head.toString()} (sequence ${now.sequence}) while this publish was sent`, { backend: BACKEND, cause: e })
          }
          throw wrap(e, `publish ipns:${name.name}`, publishOptions, signal)
        }
        return { sequence: record.revision, recordBytes: bytes.byteLength }
      })
      highestSeen.set(name.name, Math.max(record.revision, highestSeen.get(name.name) ?? 0))
      return receipt
    },

    async * watch (text: string, watchOptions: CallOptions): AsyncIterable<ResolvedHead> {
      let last: string | undefined
      const signal = watchOptions.signal
      const stopped = (): boolean => signal?.aborted === true
      while (!stopped()) {
        try {
          const head = await resolve(text, watchOptions)
          const seen = `${head.revision}:${head.head.toString()}`
          if (seen !== last) {
            last = seen
            yield head
          }
        } catch (e) {
          if (stopped()) return
          if (!isRemoteLogError(e, 'NOT_FOUND')) throw e
        }
        await sleep(s.pollMs, undefined, { signal }).catch(() => {})
      }
    },

    async close () {
      if (closed) return
      closed = true
      await node.stop()
    }
  }
}
