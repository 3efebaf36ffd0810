import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import lockfile from 'proper-lockfile'
import { fail } from './errors.js'
import { Mutex } from './mutex.js'

/** A lock untouched this long belongs to a dead process and may be taken over. */
const STALE_MS = 10_000
/** How long a caller waits for a lock another process holds before giving up. */
const WAIT_MS = 120_000

const madeDirs = new Set<string>()

/** Takes the lock at `path`, waiting for another holder up to `waitMs`; returns its release. */
async function acquire (path: string, waitMs: number, onLost: () => void = () => {}): Promise<() => Promise<void>> {
  const dir = dirname(path)
  if (!madeDirs.has(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    madeDirs.add(dir)
  }
  const started = Date.now()
  for (;;) {
    try {
      return await lockfile.lock(path, {
        realpath: false,
        lockfilePath: path,
        stale: STALE_MS,
        retries: { retries: 50, minTimeout: 2, maxTimeout: 50, factor: 1.5 },
        onCompromised: (e) => {
          onLost()
          process.emitWarning(`remotelog: lost the lock ${path}: ${e.message}`)
        }
      })
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT') { // the folder was removed since this process made it
        await mkdir(dir, { recursive: true, mode: 0o700 })
        continue
      }
      if (code !== 'ELOCKED') throw e
      if (Date.now() - started > waitMs) {
        throw fail('TIMEOUT', `${path} is held by another process for over ${Math.round(waitMs / 1000)} s (it is removed by itself once that process ends)`)
      }
    }
  }
}

/**
 * Runs `section` while holding the cross-process lock at `path` (proper-lockfile: an exclusive
 * `mkdir` of `path`, refreshed while held; a lock left by a killed process is stale after 10 s and
 * taken over; locks still held when the process exits are removed). Waits for a lock another process
 * holds, then TIMEOUT naming the lock.
 * @example await withFileLock(join(stateDir, 'locks', 'keys.lock'), async () => { … })
 */
export async function withFileLock<T> (path: string, section: () => Promise<T>, options: { waitMs?: number } = {}): Promise<T> {
  const release = await acquire(path, options.waitMs ?? WAIT_MS)
  try {
    return await section()
  } finally {
    await release().catch(() => {})
  }
}

/**
 * The cross-process lock at `path` (as `withFileLock`), kept by this process for `idleMs` after a
 * section ends, so that back-to-back sections — an append, then its publish — take it once, and
 * another process waits at most that long more. While `heldSince` stays the same, the lock was held
 * without a break: nothing it guards was changed by anyone else, and what this process read or wrote
 * under it is still current.
 */
export class FileLease {
  /** A new value each time the lock is taken; undefined while it is not held. */
  heldSince: number | undefined
  private release: (() => Promise<void>) | undefined
  private idle: NodeJS.Timeout | undefined
  private readonly turn = new Mutex()
  private static takes = 0

  constructor (readonly path: string, private readonly idleMs = 20) {}

  async run<T> (section: () => Promise<T>): Promise<T> {
    return await this.turn.run(async () => {
      clearTimeout(this.idle)
      if (this.release === undefined) {
        const release = await acquire(this.path, WAIT_MS, () => { if (this.release === release) this.forget() })
        this.release = release
        this.heldSince = ++FileLease.takes
      }
      try {
        return await section()
      } finally {
        const timer = setTimeout(() => { void this.turn.run(async () => { if (this.idle === timer) await this.drop() }) }, this.idleMs)
        timer.unref() // an exiting process's locks are removed by proper-lockfile
        this.idle = timer
      }
    })
  }

  /** Gives the lock back now. */
  async close (): Promise<void> {
    await this.turn.run(async () => { await this.drop() })
  }

  private forget (): void {
    clearTimeout(this.idle)
    this.idle = undefined
    this.release = undefined
    this.heldSince = undefined
  }

  private async drop (): Promise<void> {
    const release = this.release
    this.forget()
    await release?.().catch(() => {})
  }
}
