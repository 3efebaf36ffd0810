import { fail } from './errors.js'

/** A log address: the NS backend's scheme and the name in it, e.g. `ens:alice.eth`. */
export interface LogAddress {
  scheme: string
  name: string
}

export function formatAddress (address: LogAddress): string {
  return `${address.scheme}:${address.name}`
}

/** Parses `scheme:name`; INVALID_INPUT when it is not one. */
export function parseAddress (text: string): LogAddress {
  const match = /^([a-z][a-z0-9+.-]*):(.+)$/.exec(text.trim())
  if (match === null) throw fail('INVALID_INPUT', `not a log address (scheme:name, e.g. local:b…, ens:alice.eth): ${text}`)
  return { scheme: match[1], name: match[2] }
}
