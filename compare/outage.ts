import type { Endpoint } from '../core/endpoint.js'
import type { BackoffOptions } from '../core/backoff.js'
import type { RetryEvent } from '../core/live-follow.js'

/**
 * What cuts the network between the endpoints and a backend: a fault proxy in front of it
 * (compare/fault-proxy.ts is one), or several at once (`allOf`).
 */
export interface OutageSwitch {
  /** Connections refused (and open ones reset) until `comeUp`. */
  goDown: () => Promise<void>
  comeUp: () => Promise<void>
}

export interface OutageSetup {
  /** The writing endpoint (its default log is written). */
  writer: Pick<Endpoint, 'append' | 'publish'>
  /** The reading endpoint, already following the writer's log as `alias`. */
  reader: Pick<Endpoint, 'watch' | 'read'>
  alias: string
  /** Cuts every backend the endpoints use. */
  fault: OutageSwitch
}

export interface OutageOptions {
  /** How long the backends stay unreachable. Default 3 000 ms. */
  outageMs?: number
  /** Messages published before the outage, appended during it, and published after. Default 5, 3, 5. */
  before?: number
  during?: number
  after?: number
  /** Gives up waiting for the follower after this long past the outage. Default 60 000 ms. */
  timeoutMs?: number
  /** Passed to the follower's `watch`. */
  pollMs?: number
  backoff?: BackoffOptions
  /** Text of message `i` (default `outage-<i>`): make it unique per run when logs are reused. */
  text?: (i: number) => string
}

export interface OutageResult {
  /** The follower ended with every message, none twice, without being restarted. */
  recovered: boolean
  /**
   * From the end of the outage until the follower held every message appended before that end
   * (the writer publishes them as soon as it can): what a user waits. Undefined if never.
   */
  recoveryMs?: number
  /** Messages the follower does not hold at the end. */
  lost: number
  /** Messages it holds, or was handed, more than once. */
  duplicated: number
  /** Retries the follower reported (`onRetry`) while the backends were away. */
  retries: number
  /** Why it did not recover: the follower's or the writer's error. */
  error?: string
}

/** Several switches as one: all go down together and come up together. */
export function allOf (switches: OutageSwitch[]): OutageSwitch {
  return {
    goDown: async () => { await Promise.all(switches.map(async s => { await s.goDown() })) },
    comeUp: async () => { await Promise.all(switches.map(async s => { await s.comeUp() })) }
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * "Survives an outage": a live follower (`Endpoint.watch`) reads a log while the backends go away
 * for `outageMs` and come back. Before the outage the writer publishes `before` messages and the
 * follower gets them; during it the writer appends `during` more (journaled; its publish fails);
 * once the backends are back the writer publishes them (retrying until it can), then `after` more.
 * Measures how long after the outage the follower held everything appended before its end, and
 * checks it ends with each message exactly once.
 * @example
 * const result = await measureOutage({ writer: alice, reader: bob, alias: 'alice', fault: proxy })
 * // { recovered: true, recoveryMs: 2150, lost: 0, duplicated: 0, retries: 4 }
 */
export async function measureOutage (setup: OutageSetup, options: OutageOptions = {}): Promise<OutageResult> {
  const outageMs = options.outageMs ?? 3000
  const [before, during, after] = [options.before ?? 5, options.during ?? 3, options.after ?? 5]
  const timeoutMs = options.timeoutMs ?? 60_000
  const text = options.text ?? ((i: number) => `outage-${i}`)
  const texts = Array.from({ length: before + during + after }, (_, i) => text(i))

  const stop = new AbortController()
  let length = 0
  let handed = 0
  let retries = 0
  let down = false
  let failure: unknown
  const waiters = new Set<() => void>()
  const follower = (async () => {
    try {
      for await (const report of setup.reader.watch(setup.alias, {
        signal: stop.signal,
        pollMs: options.pollMs,
        backoff: options.backoff,
        onRetry: (_event: RetryEvent) => { if (down) retries++ }
      })) {
        length = report.length
        handed += report.delivered
        for (const wake of waiters) wake()
      }
    } catch (e) {
      failure = e
      for (const wake of waiters) wake()
    }
  })()
  const reach = async (n: number, deadline: number): Promise<boolean> => {
    while (length < n && failure === undefined && !stop.signal.aborted) {
      const left = deadline - performance.now()
      if (left <= 0) return false
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(left, 250))
        waiters.add(() => { clearTimeout(timer); resolve() })
      })
      waiters.clear()
    }
    return length >= n
  }
  /** The writer publishes, retrying while the backends are not answering yet. */
  const publish = async (deadline: number): Promise<void> => {
    for (;;) {
      try {
        await setup.writer.publish()
        return
      } catch (e) {
        if (performance.now() > deadline) throw e
        await sleep(100)
      }
    }
  }

  let recoveryMs: number | undefined
  let error: string | undefined
  try {
    await setup.writer.append(texts.slice(0, before))
    await publish(performance.now() + timeoutMs)
    if (!await reach(before, performance.now() + timeoutMs)) throw new Error(`the follower did not get the first ${before} messages before the outage`)

    down = true
    await setup.fault.goDown()
    const outageEnds = performance.now() + outageMs
    await setup.writer.append(texts.slice(before, before + during))
    await setup.writer.publish().catch(() => {}) // fails: the backends are away; the messages stay journaled
    await sleep(Math.max(0, outageEnds - performance.now()))
    await setup.fault.comeUp()
    const up = performance.now()
    down = false

    const deadline = up + timeoutMs
    await publish(deadline)
    if (await reach(before + during, deadline)) recoveryMs = Math.round(performance.now() - up)
    await setup.writer.append(texts.slice(before + during))
    await publish(deadline)
    await reach(texts.length, deadline)
  } catch (e) {
    error = e instanceof Error ? e.message : String(e)
  } finally {
    if (down) await setup.fault.comeUp().catch(() => {})
    stop.abort()
    await follower
  }
  if (failure !== undefined && error === undefined) error = failure instanceof Error ? failure.message : String(failure)

  // What the follower holds, by text: each message once.
  const held = new Map<string, number>()
  let stored = 0
  try {
    for await (const m of setup.reader.read(setup.alias)) {
      stored++
      const t = m.payload === undefined ? '' : new TextDecoder().decode(m.payload)
      held.set(t, (held.get(t) ?? 0) + 1)
    }
  } catch (e) {
    error ??= e instanceof Error ? e.message : String(e)
  }
  const lost = texts.filter(t => (held.get(t) ?? 0) === 0).length
  const duplicated = texts.reduce((n, t) => n + Math.max(0, (held.get(t) ?? 0) - 1), 0) + Math.max(0, handed - stored)
  const recovered = error === undefined && failure === undefined && recoveryMs !== undefined && lost === 0 && duplicated === 0
  return { recovered, ...(recoveryMs !== undefined ? { recoveryMs } : {}), lost, duplicated, retries, ...(error !== undefined ? { error } : {}) }
}

/** The compare table's cell for the "survives a 3 s outage" row. */
export function outageCell (result: OutageResult): string {
  if (result.recovered) return `✓ ${(result.recoveryMs! / 1000).toFixed(1)} s`
  const what = [result.lost > 0 ? `${result.lost} lost` : '', result.duplicated > 0 ? `${result.duplicated} twice` : '', result.error ?? ''].filter(s => s !== '')
  return `✗ ${what.join(', ') || 'did not recover'}`
}

