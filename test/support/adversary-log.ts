import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { expect, onTestFinished } from 'vitest'
import { openActor, type Actor } from '../../compare/actor.js'
import type { NsAdversary } from '../../compare/adversary.js'
import { lyingStore, type LyingStore } from '../../compare/adversary-cas.js'
import type { GuaranteeOutcome, Verdict } from '../../compare/metrics.js'
import type { LiarReader, ProbeContext, ProbeReader } from '../../compare/probe.js'
import { messageText } from '../../compare/scenario.js'
import type { Config } from '../../config/config.js'
import { parseAddress } from '../../core/address.js'
import type { HeadRecord, OwnerKey } from '../../core/name-system.js'
import { tempDir } from './temp-dir.js'

/** Bytes per message of an attacked log. */
export const MESSAGE_BYTES = 40

/** A published log, its readers (synced), and what the probes in compare/probe.ts need to attack it. */
export interface AttackedLog {
  address: string
  name: string
  owner: OwnerKey
  writerDir: string
  adversary: NsAdversary
  /** The first head (to roll back to) and its page. */
  first: { record: HeadRecord, page: Uint8Array }
  /** Length and head the readers hold. */
  length: number
  head: CID
  ctx: ProbeContext
  /** A new reader whose store lies on demand. */
  liar: () => Promise<LiarReader>
  /** Closes the writer's endpoint (e.g. so the owner can open its Hypercore storage raw). */
  closeWriter: () => Promise<void>
}

export interface AttackedLogOptions {
  /** The config of each actor (`writer`, `reader-a`, …); the log settings are set here (pointer mode, 4 entries a page). */
  config: (who: string) => Config
  /** The raw adversary of the log's name, opened once the name is known. */
  adversary: (name: string, writerDir: string) => Promise<NsAdversary>
  /** Messages in all, and publishes they are spread over. Default 10 in 3. */
  messages?: number
  publishes?: number
  /** After the last publish, before the readers sync (e.g. have a seeder replicate the log). */
  afterPublish?: (address: string) => Promise<void>
}

/**
 * Writes a log of `messages` in `publishes` (several pages), opens two readers that sync all of it,
 * and returns the probe context. Every actor and the adversary close when the test ends.
 * @example
 * const log = await attackedLog({ config, adversary: async name => localAdversary({ names, name }) })
 * const outcome = await probeForeignWrite(log.ctx, log.adversary, log.owner)
 */
export async function attackedLog (options: AttackedLogOptions): Promise<AttackedLog> {
  const root = await tempDir('remotelog-attacked-')
  const actors: Actor[] = []
  const open = async (who: string, wrap?: (cas: LyingStore) => void): Promise<Actor> => {
    const config = { ...options.config(who), log: { mode: 'pointer' as const, pageEntries: 4 } }
    const actor = await openActor(join(root, who), config, wrap === undefined
      ? {}
      : { wrapCas: cas => { const store = lyingStore(cas); wrap(store); return store } })
    actors.push(actor)
    return actor
  }
  const close = async (actor: Actor): Promise<void> => {
    if (actors.includes(actor)) actors.splice(actors.indexOf(actor), 1)
    await actor.close()
  }
  let adversary: NsAdversary | undefined
  onTestFinished(async () => {
    await adversary?.close()
    await Promise.allSettled(actors.splice(0).map(async a => { await a.close() }))
  })

  const writerDir = join(root, 'writer')
  const writer = await open('writer')
  const address = await writer.endpoint.address()
  const name = parseAddress(address).name
  const owner = await writer.endpoint.owner()
  adversary = await options.adversary(name, writerDir)
  const total = options.messages ?? 10
  const publishes = options.publishes ?? 3
  let first: { record: HeadRecord, page: Uint8Array } | undefined
  for (let p = 0, seq = 0; p < publishes; p++) {
    const count = p === publishes - 1 ? total - seq : Math.ceil(total / publishes)
    await writer.endpoint.append(Array.from({ length: count }, (_, i) => messageText(seq + i, MESSAGE_BYTES)))
    seq += count
    const published = (await writer.endpoint.publish())!
    if (first === undefined) {
      first = { record: published, page: await writer.endpoint.cas.get(published.head) }
      await adversary.remember()
    }
  }
  await options.afterPublish?.(address)

  const reader = async (who: string): Promise<ProbeReader> => {
    const actor = await open(who)
    await actor.endpoint.follow(address, 'w')
    return {
      who,
      endpoint: actor.endpoint,
      alias: 'w',
      close: async () => { await close(actor) },
      // The same state dir in a new endpoint, as a later `remotelog sync` process.
      reopen: async () => {
        await close(actor)
        return await reader(who)
      }
    }
  }
  const readers = [await reader('reader A'), await reader('reader B')]
  for (const r of readers) {
    for (let i = 0; ; i++) {
      const report = await r.endpoint.sync('w')
      if (report.length === total) break
      if (i > 50) throw new Error(`${r.who} got ${report.length} of ${total} messages`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  const head = CID.parse((await readers[0].endpoint.following())[0].cursor.head!)
  // The attacker's own endpoint, to put pages in the log's store (content-addressed: anyone can).
  const mallory = await open('mallory')
  let fresh = 0
  return {
    address,
    name,
    owner,
    writerDir,
    adversary,
    first: first!,
    length: total,
    head,
    ctx: {
      cas: mallory.endpoint.cas,
      readers,
      expected: seq => messageText(seq, MESSAGE_BYTES),
      freshReader: async who => await reader(`${who} ${++fresh}`)
    },
    liar: async () => {
      let store: LyingStore | undefined
      const actor = await open('liar', s => { store = s })
      return { endpoint: actor.endpoint, store: store!, close: async () => { await close(actor) } }
    },
    closeWriter: async () => { await close(writer) }
  }
}

/**
 * Checks one attack's outcome: the verdict, a head that differs from the current one, and that
 * the backend's state and every reader agree with it — nothing followed, every copy intact; with
 * the backend refusing, the name did not move; with the readers refusing, the name moved to the
 * attack's head and every reader that counts failed with `code`.
 */
export function expectOutcome (outcome: GuaranteeOutcome, verdict: Verdict, code?: string): void {
  expect(outcome.verdict, outcome.how).toBe(verdict)
  expect(outcome.held).toBe(true)
  const e = outcome.evidence![0]
  expect(e.attackHead).not.toBe(e.nameBefore)
  const counted = e.readers.filter(r => r.counted !== false)
  for (const r of counted) expect(r, `${r.reader}: ${outcome.how}`).toMatchObject({ fooled: false, intact: true })
  for (const r of e.readers) expect(r.intact, r.reader).toBe(true)
  if (verdict === 'refused by the backend') {
    expect(e.backend.accepted).toBe(false)
    expect(e.nameAfter).toBe(e.nameBefore)
    for (const r of counted) expect(r.code, r.reader).toBeUndefined()
  } else {
    expect(e.nameAfter).toBe(e.attackHead)
    expect(counted.map(r => r.code)).toEqual(counted.map(() => code))
  }
}
