import type Hypercore from 'hypercore'

/** The parts of Hypercore's replication peer (`core.peers[i]`, untyped upstream) used here. */
interface ReplicationPeer {
  /** Requests sent to this peer and not answered yet. */
  inflight: number
  /** Messages sent (`tx`) and received (`rx`) on this core's channel, per message type. */
  stats: Record<string, number | { tx: number, rx: number }>
  /** The connection (a Hyperswarm secret stream) the core replicates over. */
  stream: { destroy: () => void, destroyed?: boolean }
}

function peersOf (core: Hypercore): ReplicationPeer[] {
  return core.peers as ReplicationPeer[]
}

function count (peer: ReplicationPeer, field: 'rx' | 'tx', only?: string): number {
  let n = 0
  for (const [type, value] of Object.entries(peer.stats)) {
    if (typeof value === 'object' && value !== null && (only === undefined || type === only)) n += value[field]
  }
  return n
}

/**
 * Starts watching the core's connected peers for one wait; the returned function lists those that
 * were asked something during it (or still owe an answer) and sent nothing back at all. Call it
 * when the wait timed out: with Hypercore's own request timeouts the requests may already be gone.
 * @example
 * const silent = silentPeerProbe(core)
 * try { await deadline.race(core.get(i, { activeRequests }), …) } catch (e) { if (timedOut(e)) dropSilentPeers(silent()) }
 */
export function silentPeerProbe (core: Hypercore): () => ReplicationPeer[] {
  const before = new Map(peersOf(core).map(peer => [peer, { rx: count(peer, 'rx'), asked: count(peer, 'tx', 'wireRequest'), owed: peer.inflight }]))
  return () => peersOf(core).filter(peer => {
    const at = before.get(peer)
    if (at === undefined) return false // connected during the wait: not judged yet
    const asked = at.owed > 0 || peer.inflight > 0 || count(peer, 'tx', 'wireRequest') > at.asked
    return asked && count(peer, 'rx') === at.rx
  })
}

/**
 * Gives up on peers that answered nothing within a whole timeout. Hypercore keeps asking such a peer
 * (a blocked process, or a connection only this side still believes in) for as long as its
 * connection lives, and the swarm does not dial a peer it is connected to, so a long-lived reader
 * would time out on it again and again while a seeder, or the writer over a new connection, has the
 * data. Closing the connection lets the next lookup reach whoever is reachable, that same peer
 * included once it answers again. Returns how many connections it closed.
 */
export function dropSilentPeers (peers: ReplicationPeer[]): number {
  let dropped = 0
  for (const peer of peers) {
    if (peer.stream.destroyed === true) continue
    peer.stream.destroy()
    dropped++
  }
  return dropped
}
