import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { fail } from '../../core/errors.js'

/** After a failed dial, wait this long before dialing that peer again (reads do not each re-dial a dead peer). */
const REDIAL_AFTER_MS = 1000

/** Parses configured peer multiaddrs, failing with INVALID_CONFIG on a bad one. */
export function parsePeers (peers: string[]): Multiaddr[] {
  return peers.map(text => {
    try {
      return multiaddr(text)
    } catch (cause) {
      throw fail('INVALID_CONFIG', `peers: "${text}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…)`, { backend: 'helia', cause })
    }
  })
}

/**
 * Keeps a libp2p node connected to the peers it is configured to dial. Dials are bounded by
 * `dialTimeoutMs`, shared between concurrent callers, and not repeated right after a failure.
 * A peer address may omit `/p2p/<id>`: the id learned on the first dial is remembered.
 * @example const peers = new PeerDialer(libp2p, parsePeers(['/ip4/127.0.0.1/tcp/4001']), 5000); await peers.connect()
 */
export class PeerDialer {
  readonly #libp2p: Libp2p
  readonly #addresses: Multiaddr[]
  readonly #dialTimeoutMs: number
  readonly #known = new Map<string, PeerId>()
  readonly #dialing = new Map<string, Promise<void>>()
  readonly #failedAt = new Map<string, number>()
  /** The last dial error per address, for error messages. */
  readonly lastErrors = new Map<string, string>()

  constructor (libp2p: Libp2p, addresses: Multiaddr[], dialTimeoutMs: number) {
    this.#libp2p = libp2p
    this.#addresses = addresses
    this.#dialTimeoutMs = dialTimeoutMs
  }

  get addresses (): string[] { return this.#addresses.map(String) }

  /** Dials every configured peer that is not connected. Never throws: failures land in `lastErrors`. */
  async connect (signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#addresses.map(async address => {
      await this.#ensure(address, signal).catch((e: unknown) => { this.lastErrors.set(address.toString(), String(e)) })
    }))
  }

  /** Dials one address now (also one that is not configured) and remembers its peer id. */
  async dial (address: Multiaddr, signal?: AbortSignal): Promise<PeerId> {
    const timeout = AbortSignal.timeout(this.#dialTimeoutMs)
    const connection = await this.#libp2p.dial(address, { signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
    this.#known.set(address.toString(), connection.remotePeer)
    return connection.remotePeer
  }

  async #ensure (address: Multiaddr, signal?: AbortSignal): Promise<void> {
    const key = address.toString()
    const peer = this.#known.get(key) ?? peerIdOf(address, this.#libp2p)
    if (peer !== undefined && this.#libp2p.getConnections(peer).length > 0) return
    if (Date.now() - (this.#failedAt.get(key) ?? 0) < REDIAL_AFTER_MS) return
    let dialing = this.#dialing.get(key)
    if (dialing === undefined) {
      dialing = this.dial(address, signal).then(
        () => { this.#failedAt.delete(key); this.lastErrors.delete(key) },
        (e: unknown) => { this.#failedAt.set(key, Date.now()); this.lastErrors.set(key, e instanceof Error ? e.message : String(e)) }
      ).finally(() => this.#dialing.delete(key))
      this.#dialing.set(key, dialing)
    }
    await dialing
  }
}

function peerIdOf (address: Multiaddr, libp2p: Libp2p): PeerId | undefined {
  const id = address.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id === undefined) return undefined
  return libp2p.getConnections().find(c => c.remotePeer.toString() === id)?.remotePeer
}
