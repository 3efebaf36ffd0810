import { fail } from './errors.js'
import { toCid } from './ids.js'

/** What a remotelog pack says about itself. */
export interface PackManifest {
  type: 'remotelog-pack'
  version: 1
  /** The head page's CID (also the CAR's first root). */
  head: string
  /** Entries in the log at that head, and its publish counter. */
  length: number
  revision: number
  /** 0 for a full pack; otherwise the pack holds pages and payloads from this sequence on. */
  since: number
  /** The log's address, when the exporter knew it (e.g. `local:b…`). */
  address?: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The manifest block: JSON, stored as a raw block and named by the CAR's second root, written
 * first so a reader of the stream knows whether the pack is incremental before it sees a page.
 * Deterministic: the same log exported twice gives the same bytes.
 * @example const bytes = encodeManifest({ type: 'remotelog-pack', version: 1, head, length: 10, revision: 2, since: 0 })
 */
export function encodeManifest (manifest: PackManifest): Uint8Array {
  const { type, version, head, length, revision, since, address } = manifest
  return encoder.encode(JSON.stringify(address === undefined
    ? { type, version, head, length, revision, since }
    : { type, version, head, length, revision, since, address }))
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/**
 * Decodes and checks a manifest block; MALFORMED when it is not one.
 * @example const { since, head } = decodeManifest(bytes)
 */
export function decodeManifest (bytes: Uint8Array): PackManifest {
  let value: Record<string, unknown>
  try {
    value = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>
  } catch (cause) {
    throw fail('MALFORMED', 'the pack manifest (second root) is not JSON', { cause })
  }
  if (value === null || typeof value !== 'object' || value.type !== 'remotelog-pack') throw fail('MALFORMED', 'the second root is not a remotelog pack manifest')
  if (value.version !== 1) throw fail('MALFORMED', `pack manifest version ${String(value.version)} is not supported (this remotelog reads version 1)`)
  if (typeof value.head !== 'string' || !isCount(value.length) || !isCount(value.revision) || !isCount(value.since)) {
    throw fail('MALFORMED', 'the pack manifest lacks head, length, revision or since')
  }
  if (value.address !== undefined && typeof value.address !== 'string') throw fail('MALFORMED', 'the pack manifest address is not a string')
  toCid(value.head)
  return value as unknown as PackManifest
}
