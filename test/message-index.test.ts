import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { localNs } from '../adapters/ns/local.js'
import { Endpoint } from '../core/endpoint.js'
import { tempDir } from './support/temp-dir.js'

async function seqsFrom (endpoint: Endpoint, alias: string, from: number): Promise<number[]> {
  const seqs: number[] = []
  for await (const m of endpoint.read(alias, { from })) seqs.push(m.seq)
  return seqs
}

describe("a follower's message index", () => {
  it('reads from any sequence through the index, and from the start when the index is stale or damaged', async () => {
    const root = await tempDir()
    const cas = memoryCas()
    const ns = localNs({ path: join(root, 'names') })
    const alice = await Endpoint.open({ dir: join(root, 'alice'), cas, ns, durability: 'process' })
    const bob = await Endpoint.open({ dir: join(root, 'bob'), cas, ns, durability: 'process' })
    try {
      for (let i = 0; i < 5; i++) {
        await alice.append(Array.from({ length: 300 }, (_, j) => `m${i * 300 + j}`))
        await alice.publish()
      }
      await bob.follow(await alice.address(), 'alice')
      await bob.sync('alice')
      const index = join(root, 'bob', 'follows', 'alice', 'messages.idx')
      expect((await readFile(index)).byteLength).toBe(6 * 8) // points at 0, 256, …, 1280
      for (const from of [0, 1, 255, 256, 700, 1280, 1499, 1500]) {
        expect(await seqsFrom(bob, 'alice', from)).toEqual(Array.from({ length: 1500 - from }, (_, i) => from + i))
      }
      // A point that does not land on its record, or a torn index: the read starts from the beginning.
      const bytes = await readFile(index)
      bytes.writeBigUInt64LE(17n, 8 * 3)
      await writeFile(index, bytes)
      expect(await seqsFrom(bob, 'alice', 900)).toHaveLength(600)
      await appendFile(index, Buffer.from([1, 2, 3]))
      expect(await seqsFrom(bob, 'alice', 1400)).toHaveLength(100)
      // A scrub rewrites the messages file: the index is written afresh.
      await alice.scrub([3])
      await bob.sync('alice')
      expect(await seqsFrom(bob, 'alice', 1000)).toHaveLength(500)
      expect((await readFile(index)).byteLength).toBe(6 * 8)
    } finally {
      await alice.close()
      await bob.close()
    }
  })
})
