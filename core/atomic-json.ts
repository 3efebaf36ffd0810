import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
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

/** Replaces a JSON file atomically: a crash leaves the old or the new content, never half. */
export async function writeJson (path: string, value: unknown, mode?: number): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  await mkdir(dirname(path), { recursive: true })
  await writeFile(temp, JSON.stringify(value, null, 2) + '\n', { mode })
  await rename(temp, path)
}
