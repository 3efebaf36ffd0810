/** One use reserved from a bucket: `commit()` once the action it guards took place, else `release()`. */
export interface Reservation {
  commit (): void
  release (): void
}

interface Bucket {
  tokens: number
  at: number
  pending: number
}

/** Sweep idle, full buckets once the map holds this many. */
const SWEEP_AT = 1024

/**
 * Token buckets by key (a name, a client address): each holds up to `capacity` uses and regains
 * `perSecond` of them each second. A use is reserved before the action and counted only when it is
 * committed, so actions that fail cost nothing, and concurrent actions cannot overdraw a bucket.
 * Memory stays bounded by the keys used recently: a bucket that has refilled is dropped.
 * @example
 * const perName = new TokenBuckets(50, 10)
 * const use = perName.reserve(name); if (use === undefined) refuse(); try { store(); use.commit() } finally { use.release() }
 */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>()
  readonly #capacity: number
  readonly #perSecond: number
  readonly #now: () => number
  #sweptAt = -Infinity

  constructor (capacity: number, perSecond: number, now: () => number = () => performance.now()) {
    this.#capacity = capacity
    this.#perSecond = perSecond
    this.#now = now
  }

  /** Reserves one use of `key`'s bucket, or undefined when it is empty (see `retryAfterMs`). */
  reserve (key: string): Reservation | undefined {
    const bucket = this.#refilled(key)
    if (bucket.tokens - bucket.pending < 1) return undefined
    bucket.pending++
    this.#buckets.set(key, bucket)
    let settled = false
    const settle = (used: boolean): void => {
      if (settled) return
      settled = true
      const now = this.#refilled(key)
      now.pending--
      if (used) now.tokens -= 1
      if (now.pending === 0 && now.tokens >= this.#capacity) this.#buckets.delete(key)
    }
    if (this.#buckets.size >= SWEEP_AT && this.#now() - this.#sweptAt >= 1000) this.#sweep()
    return { commit: () => settle(true), release: () => settle(false) }
  }

  /** How long until `key` has a use free again. */
  retryAfterMs (key: string): number {
    const bucket = this.#refilled(key)
    const missing = 1 - (bucket.tokens - bucket.pending)
    if (missing <= 0) return 0
    return this.#perSecond > 0 ? Math.ceil(missing / this.#perSecond * 1000) : Infinity
  }

  /** Keys with a bucket in memory (recently used, not yet refilled). */
  get size (): number { return this.#buckets.size }

  #refilled (key: string): Bucket {
    const now = this.#now()
    const bucket = this.#buckets.get(key) ?? { tokens: this.#capacity, at: now, pending: 0 }
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.at) / 1000 * this.#perSecond)
    bucket.at = now
    return bucket
  }

  #sweep (): void {
    this.#sweptAt = this.#now()
    for (const key of [...this.#buckets.keys()]) {
      const bucket = this.#refilled(key)
      if (bucket.pending === 0 && bucket.tokens >= this.#capacity) this.#buckets.delete(key)
    }
  }
}

/**
 * The key a client's requests are counted under: its IPv4 address, or the /64 network of an IPv6
 * address (one host usually holds a whole /64, so single v6 addresses would be free to rotate).
 */
export function clientKey (address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1]
  if (!address.includes(':')) return address
  const [head, tail = ''] = address.split('%')[0].toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
