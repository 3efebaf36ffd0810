import type { BackendConfig } from '../adapters/registry.js'

export interface RemoteConfigOptions {
  /** Bearer token for CAS writes (and NS updates, with `serve --token-covers-ns`), when the service requires one. */
  token?: string
  timeoutMs?: number
  retries?: number
}

/**
 * The backends of an endpoint that uses a remote log service for both roles — what
 * `remotelog init --remote URL` writes into config.json. Addresses of its logs are `twirp:<name>`.
 * @example
 * const config = { ...remoteConfig('http://127.0.0.1:7878'), log: { mode: 'pointer' } }
 * // → { cas: { driver: 'twirp', url }, ns: { driver: 'twirp', url } }
 */
export function remoteConfig (url: string, options: RemoteConfigOptions = {}): { cas: BackendConfig, ns: BackendConfig } {
  const common = {
    url,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {})
  }
  return {
    cas: { driver: 'twirp', ...common, ...(options.token !== undefined ? { token: options.token } : {}) },
    // The NS client sends it too: a service may require it for NS updates (`serve --token-covers-ns`).
    ns: { driver: 'twirp', ...common, ...(options.token !== undefined ? { token: options.token } : {}) }
  }
}
