import { fail } from '../core/errors.js'

/**
 * The URL of one call (`path`) on a devnet control service configured as `option` (e.g.
 * `pinService`); INVALID_CONFIG naming the option when the URL is not one.
 * @example serviceEndpoint('http://127.0.0.1:4567', 'pins', 'pinService', 'helia') // { base, endpoint: 'http://127.0.0.1:4567/pins' }
 */
export function serviceEndpoint (url: unknown, path: string, option: string, backend: string): { base: URL, endpoint: string } {
  let base: URL
  try {
    base = new URL(url as string)
  } catch (cause) {
    throw fail('INVALID_CONFIG', `${option} must be the http URL of a service, got ${JSON.stringify(url)}`, { backend, cause })
  }
  return { base, endpoint: new URL(path, base.href.endsWith('/') ? base : `${base.href}/`).href }
}
