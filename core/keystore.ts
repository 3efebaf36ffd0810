import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readJson, writeJson } from './atomic-json.js'
import { fail } from './errors.js'
import { withFileLock } from './file-lock.js'

interface KeyFile { logs: Record<string, string> }

const LOG_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/

export function checkLogName (log: string): string {
  if (!LOG_NAME.test(log)) throw fail('INVALID_INPUT', `log name must be 1-64 lowercase letters, digits, _ or -: ${log}`)
  return log
}

/**
 * The secrets that own the endpoint's logs, in `<stateDir>/keys.json` (mode 0600), changed only
 * under the lock `<stateDir>/locks/keys.lock` so that processes creating logs at once keep every key.
 */
export class Keystore {
  private readonly path: string
  private readonly lockPath: string

  constructor (dir: string) {
    this.path = join(dir, 'keys.json')
    this.lockPath = join(dir, 'locks', 'keys.lock')
  }

  /** The log's secret; created when `create` (else NOT_FOUND for a log with no key here). */
  async secret (log: string, options: { create?: boolean } = {}): Promise<Uint8Array> {
    checkLogName(log)
    const hex = (await this.read()).logs[log] ?? (options.create === true ? await this.create(log) : undefined)
    if (hex === undefined) {
      const logs = await this.logs()
      throw fail('NOT_FOUND', `no log "${log}" here (own logs: ${logs.length > 0 ? logs.join(', ') : 'none'}); a log is created by its first append (remotelog append --log ${log} …)`)
    }
    return Buffer.from(hex, 'hex')
  }

  private async create (log: string): Promise<string> {
    return await withFileLock(this.lockPath, async () => {
      const file = await this.read()
      file.logs[log] ??= randomBytes(32).toString('hex')
      await writeJson(this.path, file)
      return file.logs[log]
    })
  }

  /**
   * Keeps `secret` (an old device's key) as the log's key. CONFLICT if the log has another one,
   * unless `replace` (the caller checked that the other key never published anything).
   */
  async adopt (log: string, secret: Uint8Array, options: { replace?: boolean } = {}): Promise<void> {
    checkLogName(log)
    if (secret.byteLength !== 32) throw fail('INVALID_INPUT', 'a log key is 32 bytes (64 hex digits)')
    await withFileLock(this.lockPath, async () => {
      const file = await this.read()
      const hex = Buffer.from(secret).toString('hex')
      if (file.logs[log] === hex) return
      if (file.logs[log] !== undefined && options.replace !== true) throw fail('CONFLICT', `log "${log}" already has another key here, which has written history`)
      file.logs[log] = hex
      await writeJson(this.path, file)
    })
  }

  async logs (): Promise<string[]> {
    return Object.keys((await this.read()).logs).sort()
  }

  private async read (): Promise<KeyFile> {
    const file = await readJson<KeyFile>(this.path)
    if (file === undefined) return { logs: {} }
    if (typeof file !== 'object' || file === null || typeof file.logs !== 'object' || file.logs === null) throw fail('MALFORMED', `${this.path} is not a key file ({"logs": {NAME: HEX}})`)
    for (const [log, hex] of Object.entries(file.logs)) {
      if (!LOG_NAME.test(log) || typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) throw fail('MALFORMED', `${this.path}: the key of log "${log}" is not 64 hex digits`)
    }
    return file
  }
}
