/**
 * Counts the long-polls the service holds, in all and per client, and refuses one past either
 * bound: a held request is an open connection, and an anonymous client must not hold unboundedly
 * many. A refused long-poll is answered at once (the client then polls), not failed.
 * @example
 * const slots = new WaitSlots(1000, 32)
 * const release = slots.take(client); if (release === undefined) answerNow(); else try { await wait() } finally { release() }
 */
export class WaitSlots {
  readonly #byClient = new Map<string, number>()
  readonly #max: number
  readonly #perClient: number
  #held = 0

  constructor (max: number, perClient: number) {
    this.#max = max
    this.#perClient = perClient
  }

  /** A slot for `client`, or undefined when the service or this client holds the most allowed. Release it exactly once. */
  take (client: string): (() => void) | undefined {
    const mine = this.#byClient.get(client) ?? 0
    if (this.#held >= this.#max || mine >= this.#perClient) return undefined
    this.#held++
    this.#byClient.set(client, mine + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#held--
      const left = (this.#byClient.get(client) ?? 1) - 1
      if (left === 0) this.#byClient.delete(client)
      else this.#byClient.set(client, left)
    }
  }

  /** Long-polls held now. */
  get held (): number { return this.#held }

  /** Clients holding at least one. */
  get clients (): number { return this.#byClient.size }
}
