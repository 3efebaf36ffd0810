import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import lockfile from 'proper-lockfile'
import { fail } from './errors.js'

/** A lock untouched this long belongs to a dead process and may be taken over. */
const STALE_MS = 10_000
/** How long a caller waits for a lock another process holds before giving up. */
const WAIT_MS = 120_000

/**
 * Runs `section` while holding the cross-process lock at `path` (proper-lockfile: an exclusive
 * `mkdir` of `path`, refreshed while held; a lock left by a killed process is stale after 10 s and
 * taken over). Waits for a lock another process holds, then TIMEOUT naming the lock.
 * @example await withFileLock(join(stateDir, 'locks', 'keys.lock'), async () => { … })
 */
export async function withFileLock<T> (path: string, section: () => Promise<T>, options: { waitMs?: number } = {}): Promise<T> {
  const waitMs = options.waitMs ?? WAIT_MS
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  let release: () => Promise<void>
  const started = Date.now()
  for (;;) {
    try {
      release = await lockfile.lock(path, {
        realpath: false,
        lockfilePath: path,
        stale: STALE_MS,
        retries: { retries: 50, minTimeout: 2, maxTimeout: 50, factor: 1.5 },
        onCompromised: (e) => { process.emitWarning(`remotelog: lost the lock ${path}: ${e.message}`) }
      })
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e
      if (Date.now() - started > waitMs) {
        throw fail('TIMEOUT', `${path} is held by another process for over ${Math.round(waitMs / 1000)} s (it is removed by itself once that process ends)`)
      }
    }
  }
  try {
    return await section()
  } finally {
    await release().catch(() => {})
  }
}
