import { readFile } from 'node:fs/promises'
import { fail } from '../core/errors.js'

export interface SecretSources {
  /** The value given on the command line (visible to other users in `ps`: warned about). */
  value?: string
  /** A file holding it (surrounding whitespace ignored). */
  file?: string
  /** The option names and environment variable, for messages: `--key`, `--key-file`, `REMOTELOG_KEY`. */
  flag: string
  fileFlag: string
  env: string
}

/** Prints a warning line on stderr. */
export function warn (message: string): void {
  process.stderr.write(`remotelog: warning: ${message}\n`)
}

/**
 * A secret from a file (`--key-file F`), the environment (`REMOTELOG_KEY`) or, warned against, the
 * command line (`--key`); undefined when none gives it.
 */
export async function readSecret (s: SecretSources): Promise<string | undefined> {
  if (s.value !== undefined && s.file !== undefined) throw fail('INVALID_INPUT', `${s.flag} and ${s.fileFlag} exclude each other`)
  if (s.value !== undefined) {
    warn(`${s.flag} on the command line is visible to other users (ps) and stays in shell history; use ${s.fileFlag} FILE or ${s.env}`)
    return s.value.trim()
  }
  if (s.file !== undefined) {
    let text: string
    try {
      text = await readFile(s.file, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw fail(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT', `cannot read ${s.fileFlag} ${s.file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code ?? (e as Error).message}`)
    }
    if (text.trim() === '') throw fail('INVALID_INPUT', `${s.fileFlag} ${s.file} is empty`)
    return text.trim()
  }
  const env = process.env[s.env]?.trim()
  return env === undefined || env === '' ? undefined : env
}
