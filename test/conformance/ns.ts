import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HeadRecord, NameSystem, OwnerKey } from '../../core/name-system.js'
import { cidOf } from '../../core/ids.js'
import { expectCode } from './cas.js'

export interface NsHarness {
  /** A name system for one test. Two calls in one test give two clients of the same backend. */
  create (): Promise<NameSystem>
  /** A new owner; `label` is the name to claim where names are claimed (ENS). */
  newOwner? (label: string): OwnerKey
  /** Closes `ns` and opens it again on the same storage, to show values survive a restart. */
  reopen? (ns: NameSystem): Promise<NameSystem>
  /** Names a backend might take a moment to show (replication): how long to wait for a new value. */
  settleMs?: number
  /** False where the backend holds no revision to compare (ENS: readers check page revisions). */
  checksRevisions?: boolean
  /**
   * False where two clients holding the same key can both move the name at once (a compare-then-send
   * backend such as ENS): readers then see the later one and refuse a chain that does not continue.
   */
  atomicAcrossClients?: boolean
  /**
   * The code resolving a name nobody published fails with: NOT_FOUND (default), or UNAVAILABLE where
   * only peers could say so and none is online (Hypercore: no peer answered).
   */
  unpublishedCode?: 'NOT_FOUND' | 'UNAVAILABLE'
}

let counter = 0
function defaultOwner (label: string): OwnerKey {
  return { label: `${label}${Date.now().toString(36)}${counter++}`, secret: randomBytes(32) }
}

function record (revision: number, length = revision * 10): HeadRecord {
  return { head: cidOf(randomBytes(16)), length, revision }
}

/** The behaviour every NS backend shares. Each backend's test calls this with its harness. */
export function nsConformance (name: string, harness: NsHarness): void {
  const newOwner = harness.newOwner ?? defaultOwner

  describe(`NS conformance: ${name}`, () => {
    let ns: NameSystem
    const extra: NameSystem[] = []
    beforeEach(async () => { ns = await harness.create() })
    afterEach(async () => {
      await Promise.all([ns, ...extra.splice(0)].map(async n => await n.close()))
    })

    async function resolveUntil (client: NameSystem, name: string, head: HeadRecord): Promise<void> {
      const deadline = Date.now() + (harness.settleMs ?? 0)
      for (;;) {
        const got = await client.resolve(name).catch(() => undefined)
        if (got?.head.equals(head.head) === true || Date.now() > deadline) {
          expect(got?.head.toString()).toBe(head.head.toString())
          if (client.capabilities.records) {
            expect(got?.revision).toBe(head.revision)
            expect(got?.length).toBe(head.length)
          }
          return
        }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }

    it(`fails to resolve a name nobody published with ${harness.unpublishedCode ?? 'NOT_FOUND'}`, async () => {
      const name = await ns.nameOf(newOwner('nobody'))
      await expectCode(ns.resolve(name), harness.unpublishedCode ?? 'NOT_FOUND')
    })

    it('resolves what the owner published', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      await resolveUntil(ns, name, first)
    })

    it('gives the same name for the same owner', async () => {
      const owner = newOwner('alice')
      expect(await ns.nameOf(owner)).toBe(await ns.nameOf(owner))
    })

    it('replaces the value on republish', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      const second = record(2)
      await ns.publish(name, second, owner, { previous: first.head })
      await resolveUntil(ns, name, second)
    })

    it('keeps names isolated', async () => {
      const alice = newOwner('alice')
      const bob = newOwner('bob')
      const aliceName = await ns.nameOf(alice)
      const bobName = await ns.nameOf(bob)
      expect(aliceName).not.toBe(bobName)
      const a = record(1)
      const b = record(1)
      await ns.publish(aliceName, a, alice)
      await ns.publish(bobName, b, bob)
      await resolveUntil(ns, aliceName, a)
      await resolveUntil(ns, bobName, b)
    })

    it('lets only the owner move a name (PERMISSION), and the value stays', async () => {
      const alice = newOwner('alice')
      const mallory = newOwner('mallory')
      const name = await ns.nameOf(alice)
      const first = record(1)
      await ns.publish(name, first, alice)
      await expectCode(ns.publish(name, record(2), mallory, { previous: first.head }), 'PERMISSION')
      await resolveUntil(ns, name, first)
    })

    it('rejects a stale publish (CONFLICT), and the value stays', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      const second = record(2)
      await ns.publish(name, first, owner)
      await ns.publish(name, second, owner, { previous: first.head })
      await expectCode(ns.publish(name, record(2), owner, { previous: first.head }), 'CONFLICT')
      await resolveUntil(ns, name, second)
    })

    it('refuses a publish with no previous head over an existing one (CONFLICT), and the value stays', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      await expectCode(ns.publish(name, record(2), owner), 'CONFLICT')
      await resolveUntil(ns, name, first)
    })

    it.skipIf(harness.checksRevisions === false)('refuses a revision that does not grow, even with the right previous head (CONFLICT)', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(2)
      await ns.publish(name, first, owner)
      await expectCode(ns.publish(name, record(2), owner, { previous: first.head }), 'CONFLICT')
      await expectCode(ns.publish(name, record(1), owner, { previous: first.head }), 'CONFLICT')
      await resolveUntil(ns, name, first)
    })

    it.skipIf(harness.atomicAcrossClients === false)('lets exactly one of two racing publishes from two clients win; the loser gets CONFLICT', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      const other = await harness.create()
      extra.push(other)
      const candidates = [record(2), record(2)]
      const outcomes = await Promise.allSettled([
        ns.publish(name, candidates[0], owner, { previous: first.head }),
        other.publish(name, candidates[1], owner, { previous: first.head })
      ])
      expect(outcomes.filter(o => o.status === 'fulfilled')).toHaveLength(1)
      const lost = outcomes.find(o => o.status === 'rejected') as PromiseRejectedResult
      expect(lost.reason.code).toBe('CONFLICT')
      await resolveUntil(ns, name, candidates[outcomes.findIndex(o => o.status === 'fulfilled')])
    })

    it('shows a second client of the same backend what the owner published', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      const other = await harness.create()
      extra.push(other)
      await resolveUntil(other, name, first)
    })

    it.skipIf(harness.reopen === undefined)('keeps the name and the value across a restart', async () => {
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      ns = await harness.reopen!(ns)
      expect(await ns.nameOf(owner)).toBe(name)
      await resolveUntil(ns, name, first)
      const second = record(2)
      await ns.publish(name, second, owner, { previous: first.head })
      await resolveUntil(ns, name, second)
    })

    it('delivers new heads to a watcher when the backend can watch', async (ctx) => {
      if (!ns.capabilities.watch || ns.watch === undefined) return ctx.skip()
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      const second = record(2)
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), 10_000)
      const seen: string[] = []
      const watching = (async () => {
        for await (const head of ns.watch!(name, { signal: controller.signal })) {
          seen.push(head.head.toString())
          if (head.head.equals(second.head)) controller.abort()
        }
      })()
      await new Promise(resolve => setTimeout(resolve, 50))
      await ns.publish(name, second, owner, { previous: first.head })
      await watching
      clearTimeout(timer)
      expect(seen.at(-1)).toBe(second.head.toString())
    })
  })
}
