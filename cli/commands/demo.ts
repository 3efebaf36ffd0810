import type { Command } from 'commander'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig } from '../../config/config.js'
import { openCas, openNs } from '../../adapters/registry.js'
import { Endpoint } from '../../core/endpoint.js'
import { countingCas, countingNs, emptyCounts, type RequestCounts } from '../../core/counting.js'
import { globals, output, parseCount } from '../context.js'

interface DemoOptions { messages: number, batch: number, keep?: boolean }

async function endpoint (root: string, who: string, counts: RequestCounts): Promise<Endpoint> {
  const config = defaultConfig(join(root, 'store'))
  const context = { stateDir: join(root, who) }
  const cas = countingCas(await openCas(config.cas, context), counts)
  const ns = countingNs(await openNs(config.ns, context), counts)
  return await Endpoint.open({ dir: context.stateDir, cas, ns, log: config.log })
}

/** The main job on the embedded default: a writer publishes in batches, an offline reader catches up, a live follower keeps up. */
export async function runDemo (options: DemoOptions): Promise<Record<string, unknown>> {
  const root = await mkdtemp(join(tmpdir(), 'remotelog-demo-'))
  const writes = emptyCounts()
  const reads = emptyCounts()
  const live = emptyCounts()
  const alice = await endpoint(root, 'alice', writes)
  const bob = await endpoint(root, 'bob', reads)
  const carol = await endpoint(root, 'carol', live)
  try {
    const address = await alice.address()
    await carol.follow(address, 'alice')
    const controller = new AbortController()
    let liveDelivered = 0
    const publishedAt = new Map<number, number>()
    const lags: number[] = []
    const following = (async () => {
      for await (const report of carol.watch('alice', { signal: controller.signal })) {
        liveDelivered += report.delivered
        const at = publishedAt.get(report.length)
        if (at !== undefined) lags.push(performance.now() - at)
        if (liveDelivered >= options.messages) controller.abort()
      }
    })()

    const writeStart = performance.now()
    let pages = 0
    for (let sent = 0; sent < options.messages; sent += options.batch) {
      const count = Math.min(options.batch, options.messages - sent)
      await alice.append(Array.from({ length: count }, (_, i) => `message ${sent + i} from alice at ${new Date().toISOString()}`))
      const result = await alice.publish()
      pages = Math.max(pages, Math.ceil(result!.length / 256))
      publishedAt.set(result!.length, performance.now())
    }
    const writeMs = performance.now() - writeStart

    await bob.follow(address, 'alice')
    const catchUp = await bob.sync('alice')
    const again = await bob.sync('alice')
    const liveTimeout = setTimeout(() => controller.abort(), 10_000)
    await following
    clearTimeout(liveTimeout)
    lags.sort((a, b) => a - b)

    return {
      store: join(root, 'store'),
      address,
      writer: { messages: options.messages, publishes: writes.nsPublishes, pages, casPuts: writes.casPuts, bytesPut: writes.bytesOut, ms: Math.round(writeMs), messagesPerSecond: Math.round(options.messages / (writeMs / 1000)) },
      offlineReader: { delivered: catchUp.delivered, nsRequests: catchUp.nsRequests, casRequests: catchUp.casRequests, bytes: catchUp.bytes, ms: Math.round(catchUp.ms) },
      noChangeSync: { delivered: again.delivered, nsRequests: again.nsRequests, casRequests: again.casRequests },
      liveFollower: { delivered: liveDelivered, nsRequests: live.nsResolves, casRequests: live.casGets, lagP50Ms: lags.length > 0 ? Math.round(lags[Math.floor(lags.length / 2)]) : null }
    }
  } finally {
    await Promise.all([alice.close(), bob.close(), carol.close()])
    if (options.keep !== true) await rm(root, { recursive: true, force: true })
  }
}

export function registerDemo (program: Command): void {
  program.command('demo')
    .description('run the main scenario on the embedded default backends in a fresh temp store')
    .option('--messages <n>', 'messages to publish', parseCount, 10_000)
    .option('--batch <n>', 'messages per publish', parseCount, 100)
    .option('--keep', 'keep the temp store and state dirs')
    .action(async (options: DemoOptions, command: Command) => {
      const g = globals(command)
      const r = await runDemo(options) as Record<string, Record<string, unknown>> & { address: string, store: string }
      output(g, r, v => [
        `remotelog demo on the embedded default (local on-disk CAS + signed-record NS in ${v.store})`,
        `  alice's address: ${v.address}`,
        `  writer:          ${v.writer.messages} messages in ${v.writer.publishes} publishes, ${v.writer.pages} pages; ${v.writer.casPuts} CAS puts (${v.writer.bytesPut} bytes) in ${v.writer.ms} ms = ${v.writer.messagesPerSecond} msg/s`,
        `  offline reader:  caught up ${v.offlineReader.delivered} messages with ${v.offlineReader.nsRequests} NS + ${v.offlineReader.casRequests} CAS requests (${v.offlineReader.bytes} bytes) in ${v.offlineReader.ms} ms`,
        `  no-change sync:  ${v.noChangeSync.delivered} new, ${v.noChangeSync.nsRequests} NS + ${v.noChangeSync.casRequests} CAS requests`,
        `  live follower:   ${v.liveFollower.delivered} messages as they were published (${v.liveFollower.nsRequests} NS + ${v.liveFollower.casRequests} CAS requests, publish→delivered p50 ${v.liveFollower.lagP50Ms} ms)`
      ].join('\n'))
    })
}
