import { randomBytes, randomInt } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { cidOf } from '../core/ids.js'
import { isRemoteLogError } from '../core/errors.js'
import type { OwnerKey } from '../core/name-system.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { tempDir } from './support/temp-dir.js'

const CLIENTS = 32
const DURATION_MS = 3_000

describe('the service under load', () => {
  it(`serves ${CLIENTS} concurrent clients doing mixed Add/Get/Update/Fetch with no errors and nothing lost`, async () => {
    const service = await startRemoteLogService({ dir: await tempDir() })
    afterAll(async () => { await service.stop() })

    const added: Array<{ id: CID, size: number }> = []
    const names: string[] = []
    /** The highest revision each name's owner had acknowledged, by client index. */
    const acknowledged: number[] = Array(CLIENTS).fill(0)
    const errors: unknown[] = []
    const counts = { add: 0, get: 0, update: 0, fetch: 0 }
    const deadline = Date.now() + DURATION_MS

    async function client (index: number): Promise<void> {
      const cas = twirpCas({ url: service.url })
      const ns = twirpNs({ url: service.url })
      const owner: OwnerKey = { label: `load${index}`, secret: randomBytes(32) }
      names[index] = await ns.nameOf(owner)
      let head: CID | undefined
      while (Date.now() < deadline) {
        const dice = randomInt(100)
        try {
          if (dice < 40 || added.length === 0) {
            const bytes = randomBytes(randomInt(32, 4096))
            const id = await cas.put(bytes)
            expect(id.toString()).toBe(cidOf(bytes).toString())
            added.push({ id, size: bytes.byteLength })
            counts.add++
          } else if (dice < 70) {
            const { id, size } = added[randomInt(added.length)]
            expect((await cas.get(id)).byteLength).toBe(size) // the client has verified the bytes against the id
            counts.get++
          } else if (dice < 85) {
            const revision = acknowledged[index] + 1
            const next = added[randomInt(added.length)].id
            await ns.publish(names[index], { head: next, length: revision, revision }, owner, { previous: head })
            head = next
            acknowledged[index] = revision
            counts.update++
          } else {
            // Any client's name: never older than what its owner had acknowledged before we asked.
            const other = randomInt(CLIENTS)
            const before = acknowledged[other]
            if (names[other] === undefined) continue
            const resolved = await ns.resolve(names[other]).catch((e: unknown) => {
              if (before === 0 && isRemoteLogError(e, 'NOT_FOUND')) return undefined
              throw e
            })
            if (resolved !== undefined) expect(resolved.revision).toBeGreaterThanOrEqual(before)
            counts.fetch++
          }
        } catch (e) {
          errors.push(e)
        }
      }
    }

    await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => { await client(i) }))
    expect(errors).toEqual([])
    expect(Math.min(...Object.values(counts))).toBeGreaterThan(0)

    // Every acknowledged Add is retrievable, and every name shows its owner's last acknowledged Update.
    const checker = twirpCas({ url: service.url })
    for (let i = 0; i < added.length; i += CLIENTS) {
      await Promise.all(added.slice(i, i + CLIENTS).map(async ({ id, size }) => {
        expect((await checker.get(id)).byteLength).toBe(size)
      }))
    }
    const reader = twirpNs({ url: service.url })
    for (let i = 0; i < CLIENTS; i++) {
      if (acknowledged[i] === 0) continue
      expect((await reader.resolve(names[i])).revision).toBe(acknowledged[i])
    }
    console.log(`load: ${CLIENTS} clients, ${DURATION_MS} ms: ${JSON.stringify(counts)} (${added.length} objects checked)`)
  })
})
