import { decode, encode, getCodec } from '@ensdomains/content-hash'
import { ensNormalize, id, namehash } from 'ethers'
import type { CID } from 'multiformats/cid'
import { fail } from '../../core/errors.js'
import { toCid } from '../../core/ids.js'

const backend = 'ens'

// Only the functions remotelog calls, as human-readable ABIs: the full artifacts (hundreds of KB of
// JSON) are loaded by the deployment alone.

/** ENSRegistry (`@ensdomains/ens` 0.6): who owns a node and which resolver answers for it. */
export const REGISTRY_ABI = [
  'function owner(bytes32 node) view returns (address)',
  'function resolver(bytes32 node) view returns (address)',
  'function setResolver(bytes32 node, address resolver)',
  'function setSubnodeOwner(bytes32 node, bytes32 label, address owner) returns (bytes32)'
] as const

/** PublicResolver (`@ensdomains/resolver` 0.3): the EIP-1577 contenthash record. */
export const RESOLVER_ABI = [
  'function contenthash(bytes32 node) view returns (bytes)',
  'function setContenthash(bytes32 node, bytes hash)'
] as const

/** FIFSRegistrar: the first account to register a label under its root owns it. */
export const REGISTRAR_ABI = [
  'function register(bytes32 label, address owner)'
] as const

/** The top-level name remotelog claims labels under. */
export const TLD = 'eth'

/** A parsed `<label>.eth` name with its ENS node and label hashes. */
export interface EnsName {
  name: string
  label: string
  /** namehash(name): the registry and resolver key. */
  node: string
  /** keccak256(label): what the registrar takes. */
  labelHash: string
}

/**
 * Normalises `label` (ENSIP-15) and gives its name under `.eth`. Throws INVALID_INPUT for labels
 * that are empty, contain a dot or do not normalise.
 * @example ensNameOfLabel('Alice').name // 'alice.eth'
 */
export function ensNameOfLabel (label: string): EnsName {
  let normal: string
  try {
    normal = ensNormalize(label)
  } catch (cause) {
    throw fail('INVALID_INPUT', `not a valid ENS label: ${JSON.stringify(label)}`, { backend, cause })
  }
  if (normal.length === 0 || normal.includes('.')) throw fail('INVALID_INPUT', `not a single ENS label: ${JSON.stringify(label)}`, { backend })
  const name = `${normal}.${TLD}`
  return { name, label: normal, node: namehash(name), labelHash: id(normal) }
}

/**
 * Parses a log's name (`alice.eth`, the part after `ens:` in an address). Only normalised
 * second-level `.eth` names are accepted, as only those can be claimed on the devnet registrar.
 * @example parseEnsName('alice.eth').node // namehash('alice.eth')
 */
export function parseEnsName (name: string): EnsName {
  const parts = typeof name === 'string' ? name.split('.') : []
  if (parts.length !== 2 || parts[1] !== TLD) throw fail('INVALID_INPUT', `not a <label>.${TLD} name: ${JSON.stringify(name)}`, { backend })
  const parsed = ensNameOfLabel(parts[0])
  if (parsed.name !== name) throw fail('INVALID_INPUT', `ENS name is not normalised: ${JSON.stringify(name)} (use ${parsed.name})`, { backend })
  return parsed
}

/**
 * The EIP-1577 contenthash of a head page: the `ipfs-ns` (0xe3) multicodec followed by the CIDv1's
 * bytes, as `0x…` hex, encoded with `@ensdomains/content-hash`.
 * @example encodeContenthash(cid) // '0xe30101551220…'
 */
export function encodeContenthash (cid: CID): string {
  return `0x${encode('ipfs', cid.toString())}`
}

/**
 * Decodes a resolver's contenthash into the head page's CID. Throws MALFORMED for anything but an
 * `ipfs-ns` contenthash holding a remotelog id (CIDv1, raw, sha2-256).
 * @example decodeContenthash('0xe30101551220…').toString() // 'bafkrei…'
 */
export function decodeContenthash (hex: string): CID {
  try {
    const codec = getCodec(hex)
    if (codec !== 'ipfs') throw new Error(`contenthash codec is ${codec ?? 'unknown'}, expected ipfs`)
    return toCid(decode(hex))
  } catch (cause) {
    throw fail('MALFORMED', `contenthash ${hex.slice(0, 80)} is not an ipfs-ns remotelog id`, { backend, cause })
  }
}
