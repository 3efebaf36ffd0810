import { join } from 'node:path'
import { serve } from '../service/serve.js'

export interface RemoteLogServiceOptions {
  /** Folder for the service's on-disk CAS (`blocks/`) and NS (`names/`). */
  dir: string
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  writeToken?: string
  maxBodyBytes?: number
  requestTimeoutMs?: number
}

/**
 * Starts the remote log service on 127.0.0.1 backed by the local on-disk CAS and NS under `dir`.
 * @example
 * const service = await startRemoteLogService({ dir: '/tmp/devnet/service' })
 * // config of an endpoint using it: { cas: { driver: 'twirp', url: service.url }, ns: { driver: 'twirp', url: service.url } }
 * await service.stop()
 */
export async function startRemoteLogService (options: RemoteLogServiceOptions): Promise<{ url: string, stop: () => Promise<void> }> {
  const running = await serve({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    writeToken: options.writeToken,
    maxBodyBytes: options.maxBodyBytes,
    requestTimeoutMs: options.requestTimeoutMs,
    stateDir: options.dir,
    cas: { driver: 'local', path: join(options.dir, 'blocks') },
    ns: { driver: 'local', path: join(options.dir, 'names') }
  })
  return { url: running.url, stop: async () => { await running.close() } }
}
