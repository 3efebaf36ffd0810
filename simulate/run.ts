import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initConfig } from '../config/presets.js'
import type { Config } from '../config/config.js'
import { fail } from '../core/errors.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { useDevnet } from '../devnet/use-devnet.js'
import { openActor, type Actor } from '../compare/actor.js'
import { seededRandom } from './random.js'

export interface SimulateOptions {
  /** `local`: the embedded on-disk backends in a temp store; `devnet`: a devnet's backends. */
  profile?: 'local' | 'devnet'
  /** With the devnet profile: a running devnet (settings, file or folder); default: start an embedded one. */
  devnet?: string | DevnetSettings
  /** With the devnet profile: the NS and CAS drivers (default hypercore and helia). */
  ns?: string
  cas?: string
  /** How many endpoints, each writing one log and following all the others. Default 5. */
  endpoints?: number
  rounds?: number
  /** Chance per round that an online endpoint goes offline, and that an offline one stays away. Default 0.3. */
  churn?: number
  /** Most messages an endpoint appends per round (at least 1). Default 5. */
  maxMessages?: number
  seed?: number
  log?: (line: string) => void
}

/** What a simulation delivered and what it cost. */
export interface SimulationReport {
  profile: string
  ns: string
  cas: string
  endpoints: number
  rounds: number
  churn: number
  seed: number
  /** Messages written in all. */
  published: number
  /** Deliveries due: every message to every other endpoint. */
  expected: number
  /** Distinct (reader, message) pairs delivered, verified byte for byte in sequence order. */
  delivered: number
  duplicates: number
  /** Messages read back out of sequence order, or with other bytes than written. */
  misordered: number
  /** delivered / expected (1 = 100 %). */
  deliveryRate: number
  /** How often an endpoint went offline (its process closed), and syncs done. */
  offlineEvents: number
  syncs: number
  /** Cost per delivered message: NS and CAS requests and bytes, readers and writers together. */
  perMessage: { nsRequests: number, casRequests: number, bytes: number }
  durationMs: number
}

interface Node {
  index: number
  dir: string
  config: Config
  actor?: Actor
  address: string
  /** Messages this endpoint wrote. */
  written: number
  /** Per followed writer: deliveries counted from sync reports. */
  received: Map<number, number>
}

const decoder = new TextDecoder()
const payloadOf = (writer: number, seq: number): string => `e${writer} message ${seq}`

/**
 * `remotelog simulate`: K endpoints that each write a log and follow every other, over `rounds`;
 * each round an endpoint may go offline (its process closes) or come back, and online endpoints
 * append, publish and sync. At the end every endpoint comes back and syncs, then every copy is read
 * back and checked: all messages, each once, in order, byte for byte. Reports the delivery and the
 * cost per message.
 * @example
 * const report = await runSimulation({ profile: 'local', endpoints: 4, rounds: 6, churn: 0.3, seed: 1 })
 * report.deliveryRate // 1
 */
export async function runSimulation (options: SimulateOptions = {}): Promise<SimulationReport> {
  const profile = options.profile ?? 'local'
  const k = options.endpoints ?? 5
  const rounds = options.rounds ?? 8
  const churn = options.churn ?? 0.3
  const maxMessages = Math.max(1, options.maxMessages ?? 5)
  const seed = options.seed ?? Date.now() % 1_000_000
  if (!Number.isInteger(k) || k < 2) throw fail('INVALID_INPUT', '--endpoints must be at least 2')
  if (!(churn >= 0 && churn < 1)) throw fail('INVALID_INPUT', '--churn must be in [0, 1)')
  if (profile !== 'local' && profile !== 'devnet') throw fail('INVALID_INPUT', `--profile must be local or devnet, not ${String(profile)}`)
  const log = options.log ?? (() => {})
  const random = seededRandom(seed)
  const started = performance.now()
  const root = await mkdtemp(join(tmpdir(), 'remotelog-simulate-'))

  let devnet: DevnetSettings | undefined
  let stopEmbedded: (() => Promise<void>) | undefined
  const ns = profile === 'devnet' ? (options.ns ?? 'hypercore') : 'local'
  const cas = profile === 'devnet' ? (options.cas ?? 'helia') : 'local'
  const nodes: Node[] = []
  const counted: Actor['counts'][] = []
  let offlineEvents = 0
  let syncs = 0

  try {
    if (profile === 'devnet') {
      const used = await useDevnet(options.devnet, root, log)
      devnet = used.settings
      stopEmbedded = used.stop
    }
    const tag = Math.floor(random() * 0xffffff).toString(16)
    const online = async (node: Node): Promise<Actor> => {
      if (node.actor === undefined) {
        node.actor = await openActor(node.dir, node.config)
        counted.push(node.actor.counts)
      }
      return node.actor
    }
    const offline = async (node: Node): Promise<void> => {
      await node.actor?.close()
      node.actor = undefined
      offlineEvents++
    }
    const write = async (node: Node, count: number): Promise<void> => {
      const { endpoint } = await online(node)
      await endpoint.append(Array.from({ length: count }, (_, i) => payloadOf(node.index, node.written + i)))
      await endpoint.publish()
      node.written += count
    }
    const syncAll = async (node: Node): Promise<void> => {
      const { endpoint } = await online(node)
      for (const other of nodes) {
        if (other === node) continue
        // A cold Hypercore reader's first lookup can miss every peer ("not published"): sync again.
        let report = await endpoint.sync(`e${other.index}`)
        syncs++
        for (let i = 1; !report.published && i < 3; i++, syncs++) report = await endpoint.sync(`e${other.index}`)
        node.received.set(other.index, (node.received.get(other.index) ?? 0) + report.delivered)
      }
    }

    // Every endpoint publishes a first message before its address is shared, then follows the others.
    for (let i = 0; i < k; i++) {
      const dir = join(root, `e${i}`)
      const config: Config = {
        ...initConfig({ stateDir: dir, store: join(root, 'store'), devnet, ns, cas, name: `sim-${tag}-e${i}` }),
        log: { mode: 'pointer', pageEntries: 16 }
      }
      const node: Node = { index: i, dir, config, address: '', written: 0, received: new Map() }
      nodes.push(node)
      node.address = await (await online(node)).endpoint.address()
      await write(node, 1)
    }
    for (const node of nodes) {
      for (const other of nodes) if (other !== node) await node.actor!.endpoint.follow(other.address, `e${other.index}`)
    }
    log(`${k} endpoints on ${profile} (${ns} + ${cas}), seed ${seed}`)

    for (let round = 0; round < rounds; round++) {
      for (const node of nodes) {
        if (node.actor !== undefined && random() < churn) await offline(node)
        else if (node.actor === undefined && random() >= churn) await online(node)
      }
      const up = nodes.filter(n => n.actor !== undefined)
      for (const node of up) await write(node, 1 + Math.floor(random() * maxMessages))
      for (const node of up) await syncAll(node)
      log(`round ${round + 1}/${rounds}: ${up.length} online, ${nodes.reduce((s, n) => s + n.written, 0)} messages written`)
    }

    // Then everyone goes offline, and each comes back alone to catch up: every writer is offline.
    for (const node of nodes) {
      await node.actor?.close()
      node.actor = undefined
    }
    for (const node of nodes) {
      await syncAll(node)
      await node.actor!.close()
      node.actor = undefined
    }

    let delivered = 0
    let duplicates = 0
    let misordered = 0
    for (const node of nodes) {
      const { endpoint } = await online(node)
      for (const other of nodes) {
        if (other === node) continue
        let seq = 0
        for await (const m of endpoint.read(`e${other.index}`)) {
          if (m.seq !== seq || m.payload === undefined || decoder.decode(m.payload) !== payloadOf(other.index, m.seq)) misordered++
          else delivered++
          seq = m.seq + 1
        }
        duplicates += Math.max(0, (node.received.get(other.index) ?? 0) - other.written)
      }
      await node.actor!.close()
      node.actor = undefined
    }
    const published = nodes.reduce((s, n) => s + n.written, 0)
    const expected = published * (k - 1)
    const totals = counted.reduce((t, c) => ({ ns: t.ns + c.nsResolves + c.nsPublishes, cas: t.cas + c.casGets + c.casPuts, bytes: t.bytes + c.bytesIn + c.bytesOut }), { ns: 0, cas: 0, bytes: 0 })
    const per = (x: number): number => delivered === 0 ? 0 : Math.round((x / delivered) * 100) / 100
    return {
      profile,
      ns,
      cas,
      endpoints: k,
      rounds,
      churn,
      seed,
      published,
      expected,
      delivered,
      duplicates,
      misordered,
      deliveryRate: expected === 0 ? 1 : delivered / expected,
      offlineEvents,
      syncs,
      perMessage: { nsRequests: per(totals.ns), casRequests: per(totals.cas), bytes: per(totals.bytes) },
      durationMs: Math.round(performance.now() - started)
    }
  } finally {
    await Promise.allSettled(nodes.map(async n => { await n.actor?.close() }))
    await stopEmbedded?.()
    await rm(root, { recursive: true, force: true }).catch(() => {})
  }
}
