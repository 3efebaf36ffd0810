/** How long to wait between retries: capped exponential growth with jitter. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 200. */
  initialMs?: number
  /** Largest delay, in ms. Default 10 000. */
  maxMs?: number
  /** Growth per attempt. Default 2. */
  factor?: number
  /** Fraction of each delay taken off at random (0 = none, 1 = "full jitter"). Default 0.2. */
  jitter?: number
  /**
   * Start again from `initialMs` when the last success is at least this long ago (ms), so a
   * follower that ran well for a while does not inherit the long delays of an old outage.
   * Default `maxMs`.
   */
  resetAfterMs?: number
  /** Random source in [0, 1); default Math.random. */
  random?: () => number
  /** Clock in ms; default performance.now. */
  now?: () => number
}

/**
 * Delays for successive retries of one operation: 200, 400, 800 … ms up to a 10 s cap, each
 * shortened by up to 20 % at random so many clients do not retry in step.
 * @example
 * const backoff = new Backoff()
 * for (;;) { try { await op(); backoff.succeeded(); break } catch { await sleep(backoff.next()) } }
 */
export class Backoff {
  /** Retries since the last success (the attempt number `next` returned a delay for). */
  attempt = 0
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly factor: number
  private readonly jitter: number
  private readonly resetAfterMs: number
  private readonly random: () => number
  private readonly now: () => number
  private lastSuccess: number | undefined

  constructor (options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200
    this.maxMs = options.maxMs ?? 10_000
    this.factor = options.factor ?? 2
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2))
    this.resetAfterMs = options.resetAfterMs ?? this.maxMs
    this.random = options.random ?? Math.random
    this.now = options.now ?? (() => performance.now())
  }

  /** Notes a success: the next failure is attempt 1 again once `resetAfterMs` has passed. */
  succeeded (): void {
    this.lastSuccess = this.now()
  }

  /** Counts one more failed attempt and returns how long to wait before the next, in ms. */
  next (): number {
    if (this.lastSuccess !== undefined && this.now() - this.lastSuccess >= this.resetAfterMs) this.attempt = 0
    this.lastSuccess = undefined
    this.attempt++
    const capped = Math.min(this.maxMs, this.initialMs * this.factor ** (this.attempt - 1))
    return Math.round(capped * (1 - this.jitter * this.random()))
  }
}

/** Waits `ms`, or less when `signal` aborts (never throws). */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
