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

// Folders this process already made: a writer saves its state twice per publish.
const made = new Set<string>()

/** Replaces a JSON file atomically: a crash leaves the old or the new content, never half. */
export async function writeJson (path: string, value: unknown, mode?: number): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const dir = dirname(path)
  const text = JSON.stringify(value, null, 2) + '\n'
  if (!made.has(dir)) {
    await mkdir(dir, { recursive: true })
    made.add(dir)
  }
  await writeFile(temp, text, { mode }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e
    await mkdir(dir, { recursive: true }) // removed since it was made
    await writeFile(temp, text, { mode })
  })
  await rename(temp, path)
}
