import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished, afterAll } from 'vitest'

/** A temp folder removed when the current test (or, outside a test, the file) finishes. */
export async function tempDir (prefix = 'remotelog-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const remove = async (): Promise<void> => { await rm(dir, { recursive: true, force: true }) }
  try {
    onTestFinished(remove)
  } catch {
    afterAll(remove)
  }
  return dir
}
