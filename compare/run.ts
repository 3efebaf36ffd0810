import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fail } from '../core/errors.js'
import type { LogMode } from '../core/log-options.js'
import type { DevnetSettings } from '../devnet/settings.js'
import { useDevnet } from '../devnet/use-devnet.js'
import type { CompareReport } from './metrics.js'
import { measureBackendOutage } from './backend-outage.js'
import { outageBrief } from './metrics.js'
import { runScenario } from './scenario.js'

export const NS_BACKENDS = ['local', 'twirp', 'ens', 'hypercore', 'ipns', 'dns'] as const
export const CAS_BACKENDS = ['local', 'helia', 'kubo', 'twirp'] as const

export interface CompareOptions {
  /** NS backends to compare. Default all four. */
  ns?: string[]
  /** CAS backends; each NS runs on each. Default `['local']`. */
  cas?: string[]
  /** A running devnet's settings (file, folder or object); default: start an embedded one. */
  devnet?: string | DevnetSettings
  messages?: number
  batch?: number
  mode?: LogMode
  pageEntries?: number
  messageBytes?: number
  resolves?: number
  catchUpPoints?: number
  /** Measure "survives a 3 s outage" after each scenario (a few seconds per combination). Default true. */
  outage?: boolean
  /** Progress lines. */
  log?: (line: string) => void
}

function pick (given: string[] | undefined, known: readonly string[], fallback: string[], role: string): string[] {
  const list = given === undefined || given.length === 0 ? fallback : given.flatMap(g => g === 'all' ? [...known] : [g])
  for (const b of list) if (!known.includes(b)) throw fail('INVALID_INPUT', `unknown ${role} backend "${b}" (known: ${known.join(', ')}, or all)`)
  return [...new Set(list)]
}

/**
 * `remotelog compare`: the same scenario on each NS backend (times each CAS backend), one after
 * another so figures do not disturb each other, on a running devnet or on an embedded one started
 * (and stopped) here.
 * @example
 * const report = await runCompare({ messages: 200, batch: 20 })
 * console.log(renderTable(report))
 */
export async function runCompare (options: CompareOptions = {}): Promise<CompareReport> {
  let nsList = pick(options.ns, NS_BACKENDS, [...NS_BACKENDS], 'NS')
  const casList = pick(options.cas, CAS_BACKENDS, ['local'], 'CAS')
  const scenario = {
    messages: options.messages ?? 500,
    batch: options.batch ?? 25,
    mode: options.mode ?? 'pointer',
    pageEntries: options.pageEntries ?? 64,
    messageBytes: options.messageBytes ?? 100,
    resolves: options.resolves ?? 20
  }
  if (!Number.isInteger(scenario.messages) || scenario.messages < 2) throw fail('INVALID_INPUT', '--messages must be an integer of at least 2')
  if (!Number.isInteger(scenario.batch) || scenario.batch < 1) throw fail('INVALID_INPUT', '--batch must be a positive integer')
  if (!Number.isInteger(scenario.messageBytes) || scenario.messageBytes < 8) throw fail('INVALID_INPUT', '--size must be at least 8 bytes')
  const log = options.log ?? (() => {})
  const startedAt = new Date()
  const started = performance.now()
  const root = await mkdtemp(join(tmpdir(), 'remotelog-compare-'))

  const { settings: devnet, stop: stopEmbedded } = await useDevnet(options.devnet, root, log)
  // A devnet where BIND is not installed runs no DNS server: `all` leaves dns out (asked for by name, it fails).
  if (devnet.dns === undefined && !(options.ns ?? []).includes('dns') && nsList.includes('dns')) {
    log('no DNS server in this devnet (BIND 9 `named` not installed): leaving dns out')
    nsList = nsList.filter(ns => ns !== 'dns')
  }
  // A devnet started before the IPNS routing existed has none: `all` leaves ipns out.
  if (devnet.ipns === undefined && !(options.ns ?? []).includes('ipns') && nsList.includes('ipns')) {
    log('no IPNS routing in this devnet (started by an older remotelog): leaving ipns out')
    nsList = nsList.filter(ns => ns !== 'ipns')
  }

  try {
    const report: CompareReport = {
      version: 1,
      startedAt: startedAt.toISOString(),
      durationMs: 0,
      scenario,
      devnet: stopEmbedded !== undefined ? { embedded: true } : { embedded: false, settings: join(devnet.dir, 'devnet.json') },
      machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: availableParallelism() },
      results: []
    }
    for (const cas of casList) {
      for (const ns of nsList) {
        log(`running ${ns}+${cas}: ${scenario.messages} messages in batches of ${scenario.batch}…`)
        const rowRoot = await mkdtemp(join(root, `${ns}-${cas}-`))
        const result = await runScenario({ ...scenario, devnet, ns, cas, catchUpPoints: options.catchUpPoints, root: rowRoot, log })
        log(result.ok ? `  done in ${result.durationMs} ms` : `  FAILED: ${result.error ?? ''}`)
        if (options.outage !== false) {
          // Measured even when the scenario failed: it uses a writer and a follower of its own.
          const at = performance.now()
          result.outage = await measureBackendOutage({ devnet, ns, cas, mode: scenario.mode, pageEntries: scenario.pageEntries, root: join(rowRoot, 'outage'), log: line => { log(`[${result.id}] ${line}`) } })
          log(`  outage: ${outageBrief(result.outage)} (${Math.round(performance.now() - at)} ms)`)
        }
        report.results.push(result)
      }
    }
    report.durationMs = Math.round(performance.now() - started)
    return report
  } finally {
    await stopEmbedded?.()
    await rm(root, { recursive: true, force: true }).catch(() => {})
  }
}
