import { mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { replaceFile, type Durability } from './durable-file.js'
import { fail } from './errors.js'

/** Reads a JSON file; undefined when it does not exist. */
export async function readJson<T> (path: string): Promise<T | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  try {
    return JSON.parse(text) as T
  } catch (cause) {
    throw fail('MALFORMED', `${path} is not valid JSON`, { cause })
  }
}

// Folders this process already made: a writer saves its state twice per publish.
const made = new Set<string>()

/**
 * Replaces a JSON file atomically (see `replaceFile`): a crash leaves the old or the new content,
 * never half; with `fsync` durability (the default) it is on disk when this returns. Files are
 * 0600 and new folders 0700 unless `mode` says otherwise.
 */
export async function writeJson (path: string, value: unknown, options: { mode?: number, durability?: Durability } = {}): Promise<void> {
  const dir = dirname(path)
  const text = JSON.stringify(value, null, 2) + '\n'
  if (!made.has(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    made.add(dir)
  }
  await replaceFile(path, text, options).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e
    await mkdir(dir, { recursive: true, mode: 0o700 }) // removed since it was made
    await replaceFile(path, text, options)
  })
}
