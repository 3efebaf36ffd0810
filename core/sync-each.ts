import type { SyncReport } from './endpoint.js'
import { isRemoteLogError, type ErrorCode } from './errors.js'

/** Why the sync of one followed log failed: its error's code (INTERNAL for a non-remotelog error) and first line. */
export interface SyncFailure {
  code: ErrorCode | 'INTERNAL'
  message: string
}

/** The outcome of syncing one of several logs: a report, with `error` when that log's sync failed. */
export type SyncResult = SyncReport & { error?: SyncFailure }

/** The code and one-line message of any error (without the `[remotelog] ` prefix). */
export function describeError (error: unknown): SyncFailure {
  const code = isRemoteLogError(error) ? error.code : 'INTERNAL'
  const message = (error instanceof Error ? error.message : String(error)).replace(/^\[remotelog\] /, '').split('\n')[0]
  return { code, message }
}

/**
 * Syncs several followed logs one after another; a log that fails does not stop the others. A
 * failed log's entry has `error`, `published: false` and nothing delivered. Only an abort of
 * `signal` ends the loop early (it throws).
 * @example
 * const results = await syncEach(await endpoint.following(), f => endpoint.sync(f.alias))
 * const failed = results.filter(r => r.error !== undefined)
 */
export async function syncEach<F extends { alias: string, address?: string, cursor?: { length: number } }> (
  follows: F[],
  sync: (follow: F) => Promise<SyncReport>,
  signal?: AbortSignal
): Promise<SyncResult[]> {
  const results: SyncResult[] = []
  for (const follow of follows) {
    const started = performance.now()
    try {
      results.push(await sync(follow))
    } catch (error) {
      if (signal?.aborted === true) throw error
      results.push({
        alias: follow.alias,
        address: follow.address ?? '',
        published: false,
        delivered: 0,
        length: follow.cursor?.length ?? 0,
        scrubbed: [],
        nsRequests: 0,
        casRequests: 0,
        bytes: 0,
        ms: performance.now() - started,
        error: describeError(error)
      })
    }
  }
  return results
}
