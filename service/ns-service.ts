import { fromBinary, type MessageInitShape } from '@bufbuild/protobuf'
import { createContextKey, type HandlerContext, type ServiceImpl } from '@connectrpc/connect'
import { fail, isRemoteLogError } from '../core/errors.js'
import { openRecord, publicKeyOfName } from '../core/signed-record.js'
import { Wakeup } from '../adapters/ns/head-watch.js'
import type { RecordNameSystem } from '../adapters/ns/record-ns.js'
import type { ContentSchema, NS, Query } from '../proto/gen/vac/ns/ns_pb.js'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { KeyedLock } from '../core/keyed-lock.js'
import { TokenBuckets, type Reservation } from './rate-limit.js'
import { TwirpError } from './twirp-wire.js'
import { WaitSlots } from './wait-slots.js'

/** What NS clients can make the service store. A record's name is its key, so names are what is bounded. */
export interface NsLimits {
  /** Largest NameUpdate `content`: the signed record as sent, every byte counted (unknown fields too). Default 10 KiB, as IPNS. */
  maxRecordBytes: number
  /** Most names the service stores; an Update that would create one more is refused. Default 10 000. */
  maxNames: number
  /** New names one client (an IPv4 address, an IPv6 /64) may create per minute. Default 60. */
  newNamesPerMinute: number
  /** Updates one name may store per second, sustained. Default 10. */
  updatesPerSecond: number
  /** Updates one name may store at once before the sustained rate applies. Default 5 seconds' worth. */
  updateBurst: number
  /** Longest a long-polling Fetch is held, in ms (a client may ask for less). 0 turns long-polls off. Default 25 000. */
  maxWaitMs: number
  /** Long-polling Fetches held at once for one client (an IPv4 address, an IPv6 /64); more are answered at once. Default 32. */
  waitsPerClient: number
  /** Long-polling Fetches held at once in all; more are answered at once. Default 1 000. */
  maxWaits: number
}

const DEFAULT_LIMITS = { maxRecordBytes: 10 * 1024, maxNames: 10_000, newNamesPerMinute: 60, updatesPerSecond: 10, maxWaitMs: 25_000, waitsPerClient: 32, maxWaits: 1_000 }

/** While a long-poll is held, the record is re-read at least this often, in case a change notification was lost. */
const RECHECK_MS = 2_000

/** The limits with defaults filled in; INVALID_CONFIG for a value that is not a count. */
export function nsLimits (given: Partial<NsLimits> = {}): NsLimits {
  const limits = { ...DEFAULT_LIMITS, ...given }
  const full: NsLimits = { ...limits, updateBurst: given.updateBurst ?? limits.updatesPerSecond * 5 }
  for (const [key, value] of Object.entries(full)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (key === 'maxRecordBytes' && value < 1)) {
      throw fail('INVALID_CONFIG', `NS limit ${key} must be a ${key === 'maxRecordBytes' ? 'positive' : 'non-negative'} number, got ${String(value)}`)
    }
  }
  return full
}

/**
 * Largest request body an NS route reads: a NameUpdate with the largest record, as base64 in JSON,
 * plus room for the name and the JSON around it. Anything bigger is refused before it is read whole.
 */
export function nsMaxBodyBytes (limits: NsLimits): number {
  return Math.ceil(limits.maxRecordBytes / 3) * 4 + 1024
}

/** Handler context value: the key the request's client is counted under (see `clientKey`). Set by the server. */
export const CLIENT_KEY = createContextKey<string>('unknown', { description: 'remotelog client key' })

export interface NsServiceOptions {
  limits?: Partial<NsLimits>
  /** Names the NS held when the service started (counted against `maxNames`). Default 0. */
  storedNames?: number
  /** The long-polls held (default: a new count from `limits`); the server shares it to report `waiting`. */
  waits?: WaitSlots
  /** Aborted when the service starts shutting down: held long-polls answer at once. */
  stopping?: AbortSignal
}

/**
 * `vac.ns.NS` served from a name system of signed records. Update stores `content` only if it is
 * a record signed by the name's key whose sequence is above the stored one; updates of one name are
 * serialized, so two racing writers can never store an older record over a newer one.
 * Rejections: another key or a forged signature → PERMISSION; a sequence not above the stored
 * one → CONFLICT; exactly the stored record again → Twirp `already_exists`; a record over
 * `maxRecordBytes` → TOO_LARGE (`invalid_argument`); a new name past `maxNames` or past the
 * client's `newNamesPerMinute`, or an update past the name's rate → Twirp `resource_exhausted`
 * (`meta.retry_after_ms` when waiting helps). Only updates that would be stored count against a
 * rate: forged or stale updates of someone else's name cannot use up its owner's allowance.
 * Fetch long-polls when asked to (`wait_ms`), within `maxWaitMs`, `waitsPerClient` and `maxWaits`.
 * @example createServiceImplSpec(NS, nsService(localNs({ path }), { limits: { maxNames: 1000 } }))
 */
export function nsService (ns: RecordNameSystem, options: NsServiceOptions = {}): ServiceImpl<typeof NS> {
  const limits = nsLimits(options.limits)
  const locks = new KeyedLock()
  const updates = new TokenBuckets(limits.updateBurst, limits.updatesPerSecond)
  const newNames = new TokenBuckets(limits.newNamesPerMinute, limits.newNamesPerMinute / 60)
  const waits = options.waits ?? new WaitSlots(limits.maxWaits, limits.waitsPerClient)
  let names = options.storedNames ?? 0
  let creating = 0

  async function stored (name: string, signal: AbortSignal): Promise<Uint8Array | undefined> {
    try {
      return await ns.readRecord(name, { signal })
    } catch (e) {
      if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
      throw e
    }
  }

  function exhausted (msg: string, retryAfterMs?: number): TwirpError {
    const meta: Record<string, string> = Number.isFinite(retryAfterMs) && retryAfterMs !== undefined ? { retry_after_ms: String(retryAfterMs) } : {}
    return new TwirpError('resource_exhausted', msg, meta)
  }

  /** One more name, within the total and the client's rate; counted once the record is stored. */
  function reserveNewName (name: string, context: HandlerContext): Reservation {
    if (names + creating >= limits.maxNames) {
      throw exhausted(`this service stores at most ${limits.maxNames} names and has no room for ${name}`)
    }
    const client = context.values.get(CLIENT_KEY)
    const use = newNames.reserve(client)
    if (use === undefined) {
      throw exhausted(`this client may create at most ${limits.newNamesPerMinute} new names per minute`, newNames.retryAfterMs(client))
    }
    creating++
    let settled = false
    const settle = (used: boolean): void => {
      if (settled) return
      settled = true
      creating--
      if (used) { names++; use.commit() } else use.release()
    }
    return { commit: () => settle(true), release: () => settle(false) }
  }

  function reserveUpdate (name: string): Reservation {
    const use = updates.reserve(name)
    if (use === undefined) {
      throw exhausted(`${name} may be updated at most ${limits.updatesPerSecond} times per second (bursts of ${limits.updateBurst})`, updates.retryAfterMs(name))
    }
    return use
  }

  return {
    async update (request, context) {
      publicKeyOfName(request.name)
      const size = request.content.byteLength
      if (size > limits.maxRecordBytes) {
        throw fail('TOO_LARGE', `an NS record is at most ${limits.maxRecordBytes} bytes (all of it counts, unknown fields too); this one is ${size}`)
      }
      // Checked before anything is counted: only the name's key can spend the name's allowance.
      const sequence = Number(permitted(() => openRecord(request.name, request.content), request.name).sequence)
      await locks.run(request.name, async () => {
        const current = await stored(request.name, context.signal)
        if (current !== undefined && Buffer.from(current).equals(request.content)) {
          throw new TwirpError('already_exists', `this record is already the current one for ${request.name}`)
        }
        const uses: Reservation[] = []
        try {
          if (current === undefined) uses.push(reserveNewName(request.name, context))
          // A record that is not newer is refused below (CONFLICT) without counting against the rate.
          if (current === undefined || BigInt(sequence) > sequenceOf(current)) uses.push(reserveUpdate(request.name))
          await permittedAsync(async () => { await ns.acceptRecord(request.name, request.content, { signal: context.signal }) }, request.name)
          for (const use of uses) use.commit()
        } finally {
          for (const use of uses) use.release()
        }
      })
      return {}
    },

    async fetch (request, context) {
      publicKeyOfName(request.name)
      if (request.waitMs > 0) return await longPoll(request, context)
      return { data: await ns.readRecord(request.name, { signal: context.signal }) }
    }
  }

  /**
   * A Fetch that waits (see proto/vac/ns/ns.proto): held until the record's sequence is above
   * `afterSequence` (or a record exists), the wait ends, the client goes away or the service stops,
   * then answered with what is stored. Past the per-client or total bound it is answered at once
   * with `waitMs: 0`. Woken by this service's own Updates at once and by other writers of the store
   * through its change notifications, and re-reads every RECHECK_MS whatever happens.
   */
  async function longPoll (request: Query, context: HandlerContext): Promise<MessageInitShape<typeof ContentSchema>> {
    const answer = (data: Uint8Array | undefined, waitMs: number): MessageInitShape<typeof ContentSchema> => ({ data: data ?? new Uint8Array(0), waitMs })
    const newer = (data: Uint8Array | undefined): boolean =>
      data !== undefined && (request.afterSequence === undefined || sequenceOf(data) > request.afterSequence)
    const granted = Math.min(request.waitMs, limits.maxWaitMs)
    const release = granted > 0 && options.stopping?.aborted !== true ? waits.take(context.values.get(CLIENT_KEY)) : undefined
    if (release === undefined) return answer(await stored(request.name, context.signal), 0)
    const wake = new Wakeup()
    let stop: (() => void) | undefined
    try {
      stop = await ns.changes(request.name, wake.fire)
      const signal = options.stopping === undefined ? context.signal : AbortSignal.any([context.signal, options.stopping])
      const deadline = performance.now() + granted
      for (;;) {
        wake.clear()
        const data = await stored(request.name, context.signal)
        const left = deadline - performance.now()
        if (newer(data) || left <= 0 || signal.aborted) return answer(data, granted)
        await wake.wait(Math.min(left, RECHECK_MS), signal)
      }
    } finally {
      stop?.()
      release()
    }
  }
}

/** The sequence of a record the service stored (it was checked then); -1 when it does not decode. */
function sequenceOf (record: Uint8Array): bigint {
  try {
    return BigInt(fromBinary(SignedRecordSchema, record).sequence)
  } catch {
    return -1n
  }
}

function forged (e: unknown, name: string): unknown {
  return isRemoteLogError(e, 'INTEGRITY') ? fail('PERMISSION', `record for ${name} has a forged signature`, { cause: e }) : e
}

function permitted<T> (check: () => T, name: string): T {
  try {
    return check()
  } catch (e) {
    throw forged(e, name)
  }
}

async function permittedAsync (action: () => Promise<void>, name: string): Promise<void> {
  try {
    await action()
  } catch (e) {
    throw forged(e, name)
  }
}
