import { Backoff, sleep, type BackoffOptions } from './backoff.js'
import type { SyncOptions, SyncReport } from './endpoint.js'
import { isRemoteLogError, type ErrorCode } from './errors.js'
import type { ResolvedHead } from './name-system.js'

/** Error codes a live follower waits through: the backend may come back. */
export const TRANSIENT_CODES: readonly ErrorCode[] = ['UNAVAILABLE', 'TIMEOUT']

/** True for an error worth retrying after a pause (UNAVAILABLE, TIMEOUT). */
export function isTransient (error: unknown): boolean {
  return TRANSIENT_CODES.some(code => isRemoteLogError(error, code))
}

/** One retry of a live follower, as `onRetry` reports it. */
export interface RetryEvent {
  alias: string
  error: unknown
  /** 1 for the first retry since the follower last worked, then 2, 3, … */
  attempt: number
  /** How long the follower waits before it syncs again. */
  delayMs: number
}

/** Options of `Endpoint.watch` (the sync options apply to each sync it runs). */
export interface WatchOptions extends Omit<SyncOptions, 'signal'> {
  /** Stops following; the watch then ends without an error. */
  signal: AbortSignal
  /**
   * How often to look for a new head where the name system cannot push, in ms: passed to the name
   * system's watch (its poll interval, and its re-check in case a notification is lost), and used
   * here where the name system has no watch at all (default 1 000 there). Unset, each name system
   * keeps its own default.
   */
  pollMs?: number
  /** Called before each wait after a transient error (e.g. to print it). */
  onRetry?: (event: RetryEvent) => void
  /** Delays between retries; default 200 ms doubling up to 10 s, with jitter. */
  backoff?: BackoffOptions
  /** Which errors to wait through; default `isTransient`. Any other error ends the watch. */
  retryable?: (error: unknown) => boolean
}

/**
 * Options of `Endpoint.watchMessages`: those of `watch`, and the first sequence number to yield.
 * @example
 * // A consumer that keeps its place: resume after the last message it handled.
 * for await (const m of bob.watchMessages('alice', { signal, from: lastHandled + 1 })) handle(m)
 */
export interface WatchMessagesOptions extends WatchOptions {
  /**
   * The first sequence number to yield. Default: the follower's stored length when the watch starts,
   * i.e. only messages delivered from then on (like `tail -f`). `0` yields the whole log, the messages
   * already stored first. A consumer that restarts passes the last sequence it handled + 1 and gets
   * neither a gap nor a duplicate. A `from` beyond the log's length waits until the log gets there.
   */
  from?: number
}

/** What `liveFollow` needs from an endpoint for one followed log. */
export interface LiveSource {
  alias: string
  /** Syncs from the stored cursor (so running it again after a failure neither skips nor repeats). */
  sync: () => Promise<SyncReport>
  /** New heads as the name system pushes them; undefined where it cannot watch (then: poll). */
  heads?: (signal: AbortSignal) => AsyncIterable<ResolvedHead>
  /** The head the last complete sync reached. */
  syncedHead: () => Promise<string | undefined>
}

/**
 * Follows a log live and survives outages: syncs now, then on every new head the name system
 * reports (or every `pollMs`), yielding each sync's report until `signal` aborts. A transient error
 * of a sync or of the name system's watch is reported through `onRetry`; after a capped
 * exponential backoff with jitter the follower syncs again from its stored cursor and restarts the
 * watch, so nothing is skipped or delivered twice. Other errors (PERMISSION, INTEGRITY, MALFORMED,
 * INVALID_CONFIG, a rolled-back log's CONFLICT, …) end it.
 * @example
 * for await (const r of liveFollow(source, { signal, onRetry: e => console.error(e.delayMs) })) console.log(r.delivered)
 */
export async function * liveFollow (source: LiveSource, options: WatchOptions): AsyncGenerator<SyncReport> {
  const { signal } = options
  const backoff = new Backoff(options.backoff)
  const retryable = options.retryable ?? isTransient
  while (!signal.aborted) {
    try {
      yield await source.sync()
      backoff.succeeded()
      if (source.heads === undefined) {
        for (;;) {
          await sleep(options.pollMs ?? 1000, signal)
          if (signal.aborted) return
          yield await source.sync()
          backoff.succeeded()
        }
      }
      for await (const head of source.heads(signal)) {
        backoff.succeeded()
        if ((await source.syncedHead()) !== head.head.toString()) {
          yield await source.sync()
          backoff.succeeded()
        }
      }
      // The name system's watch ended by itself (aborted, or the name system closed).
      return
    } catch (error) {
      if (signal.aborted) return
      if (!retryable(error)) throw error
      const delayMs = backoff.next()
      options.onRetry?.({ alias: source.alias, error, attempt: backoff.attempt, delayMs })
      await sleep(delayMs, signal)
    }
  }
}
