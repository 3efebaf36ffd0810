import type { ResolvedHead } from '../../core/name-system.js'

/**
 * A level-triggered wake-up: `fire()` any number of times, from any callback; `wait()` returns at
 * once when it fired since the last `clear()`, else when it next fires, after `ms`, or on abort.
 * Fires that come while nobody waits are kept (as one), so a change is never lost between checks.
 * @example
 * const wake = new Wakeup(); emitter.on('change', wake.fire)
 * for (;;) { wake.clear(); await check(); await wake.wait(1000, signal) }
 */
export class Wakeup {
  #fired = false
  #waiter: (() => void) | undefined

  /** Marks a change and wakes the waiter, if any. */
  readonly fire = (): void => {
    this.#fired = true
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.()
  }

  /** Forgets earlier fires: call it right before reading the state the fires are about. */
  clear (): void {
    this.#fired = false
  }

  /** Resolves with true once fired (now or later), false after `ms` or on abort. */
  async wait (ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#fired) return true
    if (signal?.aborted === true) return false
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    try {
      return await new Promise<boolean>(resolve => {
        this.#waiter = () => resolve(true)
        timer = setTimeout(() => resolve(false), ms)
        onAbort = () => resolve(false)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    } finally {
      this.#waiter = undefined
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }
}

/** Stops a notification. */
export type Disarm = () => void

/** What `pushWatch` needs from a backend. */
export interface PushWatchOptions {
  signal?: AbortSignal
  /**
   * Longest time between two checks: the poll interval when no notification is armed, and the
   * re-check while one is (a lost notification then costs at most this long).
   */
  pollMs: number
  /**
   * Arms a notification of changes: `wake` on every (possibly spurious or coalesced) change, `broken`
   * once when the notification stopped working. Resolves once armed with the function that stops
   * it, or undefined (or throws) where notifications are unavailable: the watch then polls, and
   * tries to arm again before every check.
   */
  arm: (wake: () => void, broken: () => void) => Promise<Disarm | undefined>
  /** The current head; undefined while nothing is published. Errors end the watch (quietly once aborted). */
  check: () => Promise<ResolvedHead | undefined>
}

/** Identity of a head for telling a new one: revision and head page. */
export function headKey (head: ResolvedHead): string {
  return `${head.revision ?? ''}:${head.head.toString()}`
}

/**
 * Yields each new head of a name as the backend notifies a change, until `signal` aborts. Never
 * misses a head: the notification is armed before the first check, and every change after a
 * check's start wakes the next one, however notifications coalesce; a check runs at least every
 * `pollMs` in case one is lost, and is the only source of truth (a notification is only a hint).
 * Where notifications are unavailable or break, it polls every `pollMs` and keeps trying to re-arm.
 * @example
 * yield * pushWatch({ signal, pollMs: 1000, arm: async (wake) => subscribe(name, wake), check: async () => await resolve(name) })
 */
export async function * pushWatch (options: PushWatchOptions): AsyncGenerator<ResolvedHead> {
  const { signal } = options
  const aborted = (): boolean => signal?.aborted === true
  const wake = new Wakeup()
  let disarm: Disarm | undefined
  let generation = 0
  let last: string | undefined
  const stop = (): void => {
    generation++
    const d = disarm
    disarm = undefined
    d?.()
  }
  try {
    while (!aborted()) {
      if (disarm === undefined) {
        const mine = ++generation
        const broken = (): void => {
          if (mine !== generation) return
          stop()
          wake.fire()
        }
        try {
          const armed = await options.arm(wake.fire, broken)
          if (mine === generation) disarm = armed
          else armed?.()
        } catch {
          // Unavailable now: poll, and try again before the next check.
        }
        if (aborted()) return
      }
      wake.clear()
      let head: ResolvedHead | undefined
      try {
        head = await options.check()
      } catch (e) {
        if (aborted()) return
        throw e
      }
      if (head !== undefined && headKey(head) !== last) {
        last = headKey(head)
        yield head
      }
      await wake.wait(options.pollMs, signal)
    }
  } finally {
    stop()
  }
}
