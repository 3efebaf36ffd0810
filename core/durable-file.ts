import { randomBytes } from 'node:crypto'
import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * How far an acknowledged write is kept: `fsync` (the default) survives a power cut — data,
 * renames and new files are flushed to disk before a call returns; `process` survives a killed
 * process only (the OS writes the data later), for speed.
 */
export type Durability = 'fsync' | 'process'

/** Flushes a folder's entries (a rename or a new file in it) to disk. */
export async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces a file atomically: a crash leaves the old or the new content, never half. With
 * `fsync` durability the new content and the rename are on disk when this returns.
 */
export async function replaceFile (path: string, data: string | Uint8Array, options: { mode?: number, durability?: Durability } = {}): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const durable = options.durability !== 'process'
  const handle = await open(temp, 'w', options.mode ?? 0o600)
  try {
    await handle.writeFile(data)
    if (durable) await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, path)
  if (durable) await syncDir(dirname(path))
}
