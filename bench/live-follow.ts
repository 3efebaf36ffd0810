// Live follow by push (issue 16, part 2): publish → delivered latency of `Endpoint.watch`, p50/p95,
// with the writer in its own process, on every name system that pushes — the local NS
// (file-system notifications), the remote log service (long-poll) and ENS on a `hardhat node`
// (eth_subscribe newHeads over WebSocket; automine, so one block per publish) — each beside the
// same follower polling as before (local and service every 100 ms, ENS every 500 ms) in the same run.
// Latency runs from right before the writer's publish (CAS puts, then NS) until the follower's sync
// delivered the message; "publish returned→…" figures start when the writer's publish returned (the
// name moved a little earlier: negative figures mean the reader was first): "delivered" after the
// follower's sync, "head from ns.watch" when a bare watch of the reader's name system, in the
// reader's process, yielded the new head — the push alone. `--quick` runs fewer iterations; `--json` prints JSON.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { openNs } from '../adapters/registry.js'
import { openEndpoint } from '../config/open-endpoint.js'
import { parseAddress } from '../core/address.js'
import type { Config } from '../config/config.js'
import { deployEns } from '../devnet/ens-deploy.js'
import { startHardhatNode } from '../devnet/hardhat-node.js'
import { percentile, report, type Figure } from './support.js'

const quick = process.argv.includes('--quick')
const N = quick ? 30 : 100
const ENS_N = quick ? 20 : 50
const WARMUP = 5
const here = fileURLToPath(new URL('.', import.meta.url))

const root = await mkdtemp(join(tmpdir(), 'remotelog-bench-live-'))
let dirs = 0
const freshDir = (): string => join(root, `d${dirs++}`)
const wallClock = (): number => performance.timeOrigin + performance.now()

interface Child { child: ChildProcess, next: () => Promise<Record<string, unknown>>, send: (line: string) => void, stop: () => Promise<void> }

/** A helper script of bench/helpers in its own process, talking JSON lines. */
function helper (script: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'helpers', script), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return {
    child,
    async next () {
      const { value, done } = await lines.next()
      if (done === true) throw new Error(`${script} ended early`)
      return JSON.parse(value as string) as Record<string, unknown>
    },
    send (line) { child.stdin!.write(`${line}\n`) },
    async stop () {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
}

interface Case {
  writer: Config
  reader: Config
  n: number
}

/**
 * In ms, `n` times after a warm-up: publish→delivered, publish alone, delivered after the publish
 * returned (the name system's push plus the follower's sync; negative when the follower was
 * first), and the new head yielded by a bare `ns.watch` (the reader's config, same process) after
 * the publish returned: the push alone.
 */
async function liveLatency (c: Case): Promise<{ delivered: number[], publish: number[], afterPublish: number[], headAfterPublish: number[] }> {
  const writer = helper('live-writer-process.ts', [freshDir(), JSON.stringify(c.writer)])
  const reader = await openEndpoint({ dir: freshDir(), config: c.reader })
  const bare = await openNs(c.reader.ns, { stateDir: freshDir() })
  const controller = new AbortController()
  try {
    const { address } = await writer.next() as { address: string }
    await reader.follow(address, 'w')
    const heads = new Map<string, number>()
    const watchingHeads = (async () => {
      for await (const h of bare.watch!(parseAddress(address).name, { signal: controller.signal })) heads.set(h.head.toString(), wallClock())
    })()
    watchingHeads.catch((e: unknown) => { console.error('bare watch failed:', e) })
    const deliveredAt = new Map<number, number>()
    let changed: (() => void) | undefined
    const following = (async () => {
      for await (const r of reader.watch('w', { signal: controller.signal })) {
        if (r.delivered > 0) deliveredAt.set(r.length, wallClock())
        changed?.()
      }
    })()
    following.catch((e: unknown) => { console.error('follower failed:', e) })
    const delivered = async (length: number): Promise<number> => {
      while (!deliveredAt.has(length)) await new Promise<void>(resolve => { changed = resolve })
      return deliveredAt.get(length)!
    }
    const samples: number[] = []
    const publishes: number[] = []
    const afterPublish: number[] = []
    const headAfterPublish: number[] = []
    let length = 1
    await delivered(length)
    for (let i = 0; i < WARMUP + c.n; i++) {
      writer.send('go')
      const { start, publishMs, head } = await writer.next() as { start: number, publishMs: number, head: string }
      const at = await delivered(++length)
      if (i < WARMUP) continue
      samples.push(at - start)
      publishes.push(publishMs)
      afterPublish.push(at - start - publishMs)
      const headAt = heads.get(head) ?? await (async () => {
        while (!heads.has(head)) await new Promise(resolve => setTimeout(resolve, 1))
        return heads.get(head)!
      })()
      headAfterPublish.push(headAt - start - publishMs)
    }
    controller.abort()
    await following
    await watchingHeads
    return { delivered: samples, publish: publishes, afterPublish, headAfterPublish }
  } finally {
    controller.abort()
    await writer.stop()
    await reader.close()
    await bare.close()
  }
}

const figures: Figure[] = []
function stats (name: string, samples: number[], baseline?: string): void {
  figures.push({ name: `${name} p50`, value: percentile(samples, 50), unit: 'ms', baseline: baseline && `${baseline} p50` })
  figures.push({ name: `${name} p95`, value: percentile(samples, 95), unit: 'ms', baseline: baseline && `${baseline} p95` })
}

/** Runs the polling follower first, then the pushed one, and reports both (the push figure with its ratio to polling). */
async function compare (label: string, push: string, poll: string, pushed: Case, polled: Case): Promise<void> {
  const before = await liveLatency(polled)
  const after = await liveLatency(pushed)
  stats(`${label} publish→delivered, ${poll}`, before.delivered)
  stats(`${label} publish→delivered, ${push}`, after.delivered, `${label} publish→delivered, ${poll}`)
  stats(`${label} publish returned→delivered, ${poll}`, before.afterPublish)
  stats(`${label} publish returned→delivered, ${push}`, after.afterPublish, `${label} publish returned→delivered, ${poll}`)
  stats(`${label} publish returned→head from ns.watch, ${poll}`, before.headAfterPublish)
  stats(`${label} publish returned→head from ns.watch, ${push}`, after.headAfterPublish, `${label} publish returned→head from ns.watch, ${poll}`)
  stats(`${label} publish alone (writer), ${push} run`, after.publish)
}

const services: Child[] = []
const stops: Array<() => Promise<void>> = []
try {
  // Local NS: file-system notifications vs polling every 100 ms (the old default).
  {
    const cas = { driver: 'local', path: freshDir() }
    const names = freshDir()
    const writer: Config = { cas, ns: { driver: 'local', path: names } }
    await compare('local', 'fs events', 'poll 100 ms', { writer, reader: writer, n: N },
      { writer, reader: { cas, ns: { driver: 'local', path: names, notify: false, pollMs: 100 } }, n: N })
  }

  // The service in its own process: long-poll vs polling every 100 ms.
  {
    const service = helper('service-process.ts', [freshDir()])
    services.push(service)
    const { url } = await service.next() as { url: string }
    const writer: Config = { cas: { driver: 'twirp', url }, ns: { driver: 'twirp', url } }
    await compare('service', 'long-poll', 'poll 100 ms', { writer, reader: writer, n: N },
      { writer, reader: { cas: writer.cas, ns: { driver: 'twirp', url, longPollMs: 0, pollMs: 100 } }, n: N })
  }

  // ENS on `hardhat node` (automine: a block per transaction): newHeads over WebSocket vs polling every 500 ms.
  {
    const node = await startHardhatNode()
    stops.push(node.stop)
    const ens = await deployEns({ rpcUrl: node.url })
    const ns = { driver: 'ens', rpcUrl: node.url, registry: ens.registry, resolver: ens.resolver, registrar: ens.registrar }
    const cas = { driver: 'local', path: freshDir() }
    const label = (tag: string): string => `bench${tag}${process.pid}`
    const pushWriter: Config = { cas, ns, name: label('push') }
    const pollWriter: Config = { cas, ns, name: label('poll') }
    await compare('ENS', 'new blocks (WebSocket)', 'poll 500 ms', { writer: pushWriter, reader: { cas, ns }, n: ENS_N },
      { writer: pollWriter, reader: { cas, ns: { ...ns, wsUrl: false, pollMs: 500 } }, n: ENS_N })
  }

  report(`Live follow, publish→delivered with the writer in another process, ${N} messages (ENS ${ENS_N}), push vs polling`, figures)
} finally {
  for (const s of services) await s.stop()
  for (const stop of stops) await stop()
  await rm(root, { recursive: true, force: true })
}
