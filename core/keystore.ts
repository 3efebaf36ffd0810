import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readJson, writeJson } from './atomic-json.js'
import { fail } from './errors.js'

interface KeyFile { logs: Record<string, string> }

const LOG_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/

export function checkLogName (log: string): string {
  if (!LOG_NAME.test(log)) throw fail('INVALID_INPUT', `log name must be 1-64 lowercase letters, digits, _ or -: ${log}`)
  return log
}

/** The secrets that own the endpoint's logs, in `<stateDir>/keys.json` (mode 0600). */
export class Keystore {
  private readonly path: string

  constructor (dir: string) {
    this.path = join(dir, 'keys.json')
  }

  /** The log's secret, created on first use. */
  async secret (log: string): Promise<Uint8Array> {
    checkLogName(log)
    const file = await readJson<KeyFile>(this.path) ?? { logs: {} }
    let hex = file.logs[log]
    if (hex === undefined) {
      hex = randomBytes(32).toString('hex')
      file.logs[log] = hex
      await writeJson(this.path, file, 0o600)
    }
    return Buffer.from(hex, 'hex')
  }

  /**
   * Keeps `secret` (an old device's key) as the log's key. CONFLICT if the log has another one,
   * unless `replace` (the caller checked that the other key never published anything).
   */
  async adopt (log: string, secret: Uint8Array, options: { replace?: boolean } = {}): Promise<void> {
    checkLogName(log)
    if (secret.byteLength !== 32) throw fail('INVALID_INPUT', 'a log key is 32 bytes (64 hex digits)')
    const file = await readJson<KeyFile>(this.path) ?? { logs: {} }
    const hex = Buffer.from(secret).toString('hex')
    if (file.logs[log] === hex) return
    if (file.logs[log] !== undefined && options.replace !== true) throw fail('CONFLICT', `log "${log}" already has another key here, which has written history`)
    file.logs[log] = hex
    await writeJson(this.path, file, 0o600)
  }

  async logs (): Promise<string[]> {
    return Object.keys((await readJson<KeyFile>(this.path))?.logs ?? {}).sort()
  }
}
