import type { SyncReport } from '../core/endpoint.js'
import { isRemoteLogError } from '../core/errors.js'
import type { Actor } from './actor.js'

/**
 * A catch-up sync that syncs again (up to 3 times) while the name is not found or its lookup timed
 * out: a cold Hypercore reader's first DHT lookup can miss every peer, or ask one that never answers
 * (seen about once in six loaded runs). After a timeout the reader is reopened first, as a user
 * re-running `remotelog sync` gets a new process: a request stuck on a silent peer stays stuck for
 * the life of that swarm. Retries are counted in `retries.count`, and their time is part of the
 * catch-up time. Returns the report and the reader (a new one if it was reopened).
 */
export async function catchUp (actor: Actor, alias: string, retries: { count: number }, reopen: (actor: Actor) => Promise<Actor>): Promise<{ report: SyncReport, actor: Actor }> {
  let ms = 0
  for (let attempt = 1; ; attempt++) {
    const started = performance.now()
    try {
      const report = await actor.endpoint.sync(alias)
      ms += report.ms
      if (report.published || attempt >= 3) return { report: { ...report, ms }, actor }
    } catch (e) {
      ms += performance.now() - started
      if (attempt >= 3 || !isRemoteLogError(e, 'TIMEOUT')) throw e
      actor = await reopen(actor)
    }
    retries.count++
  }
}
