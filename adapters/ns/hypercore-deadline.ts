import { fail } from '../../core/errors.js'

const BACKEND = 'hypercore'

/**
 * One time budget shared by the steps of an operation (find peers → `update` → `get`), so the
 * whole call returns within `ms` whatever step stalls. Also honours an AbortSignal.
 * @example
 * const deadline = new Deadline(3000, signal)
 * const found = await deadline.race(core.update({ wait: true, activeRequests }), 'update', e => core.clearRequests(activeRequests, e))
 */
export class Deadline {
  readonly ms: number
  private readonly end: number
  private readonly signal?: AbortSignal

  constructor (ms: number, signal?: AbortSignal) {
    this.ms = ms
    this.end = performance.now() + ms
    this.signal = signal
  }

  /** Milliseconds left (at least 1, so a nested Hypercore timeout of 0 never means "no timeout"). */
  remaining (): number {
    return Math.max(1, Math.ceil(this.end - performance.now()))
  }

  get expired (): boolean {
    return performance.now() >= this.end
  }

  /** Throws ABORTED if the caller's signal fired. */
  check (): void {
    if (this.signal?.aborted === true) throw fail('ABORTED', 'hypercore operation aborted', { backend: BACKEND, cause: this.signal.reason })
  }

  /**
   * Waits for `promise` until the budget runs out or the signal aborts; then calls `cancel` with the
   * error (to release what the promise holds, e.g. Hypercore requests) and throws TIMEOUT / ABORTED.
   */
  async race<T> (promise: Promise<T>, what: string, cancel?: (error: Error) => void): Promise<T> {
    this.check()
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const stop = new Promise<never>((resolve, reject) => {
      const give = (error: Error): void => {
        cancel?.(error)
        reject(error)
      }
      timer = setTimeout(() => give(fail('TIMEOUT', `${what} took longer than ${this.ms} ms`, { backend: BACKEND })), this.remaining())
      onAbort = () => give(fail('ABORTED', `${what} aborted`, { backend: BACKEND, cause: this.signal?.reason }))
      this.signal?.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([promise, stop])
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) this.signal?.removeEventListener('abort', onAbort)
    }
  }
}
