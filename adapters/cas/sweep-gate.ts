/**
 * Lets many writers run together but never while a sweep runs. Garbage collection is the sweep: a
 * block that was put but not yet pinned would otherwise be swept between the two steps.
 * @example
 * const gate = new SweepGate()
 * await gate.shared(async () => { await putBlock(); await pinBlock() })
 * await gate.exclusive(async () => await gc())
 */
export class SweepGate {
  #active = 0
  #sweep: Promise<unknown> | undefined
  #idle: (() => void) | undefined

  /** Runs `fn` alongside other shared work, after any sweep in progress. */
  async shared<T> (fn: () => Promise<T>): Promise<T> {
    while (this.#sweep !== undefined) await this.#sweep.catch(() => {})
    this.#active++
    try {
      return await fn()
    } finally {
      if (--this.#active === 0) this.#idle?.()
    }
  }

  /** Runs `fn` alone: waits for shared work to finish and holds new shared work back until done. */
  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    while (this.#sweep !== undefined) await this.#sweep.catch(() => {})
    const run = (async () => {
      if (this.#active > 0) await new Promise<void>(resolve => { this.#idle = resolve })
      this.#idle = undefined
      return await fn()
    })()
    this.#sweep = run
    try {
      return await run
    } finally {
      this.#sweep = undefined
    }
  }
}
