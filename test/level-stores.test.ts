import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { LevelBlockstore } from 'blockstore-level'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { FastLevelBlockstore, FastLevelDatastore } from '../adapters/cas/level-stores.js'
import { cidOf } from '../core/ids.js'
import { tempDir } from './support/temp-dir.js'

async function collect (chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return Buffer.concat(parts)
}

describe('LevelDB stores of the Helia repo (synchronous reads, grouped writes)', () => {
  it('stores 200 concurrent puts and reads each back; the layout is blockstore-level\'s own', async () => {
    const path = join(await tempDir(), 'blocks')
    const store = new FastLevelBlockstore(path)
    await store.open()
    const blocks = Array.from({ length: 200 }, () => randomBytes(64))
    await Promise.all(blocks.map(async b => await store.put(cidOf(b), b)))
    for (const b of blocks) {
      expect(await store.has(cidOf(b))).toBe(true)
      expect(Buffer.from(await collect(store.get(cidOf(b))))).toEqual(b)
    }
    await store.close()

    const plain = new LevelBlockstore(path) // a repo written before this change, or by another tool
    await plain.open()
    for (const b of blocks) expect(Buffer.from(await collect(plain.get(cidOf(b))))).toEqual(b)
    await plain.close()
  })

  it('keeps the order of writes to one key made together: put, delete, put again', async () => {
    const store = new FastLevelDatastore(join(await tempDir(), 'data'))
    await store.open()
    const key = new Key('/pin/x')
    await Promise.all([
      store.put(key, Uint8Array.of(1)),
      store.delete(key),
      store.put(key, Uint8Array.of(2)),
      store.put(new Key('/pin/y'), Uint8Array.of(3)),
      store.delete(new Key('/pin/y'))
    ])
    expect([...await store.get(key)]).toEqual([2])
    expect(await store.has(new Key('/pin/y'))).toBe(false)
    await expect(store.get(new Key('/pin/y'))).rejects.toMatchObject({ name: 'NotFoundError' })
    await store.close()

    const plain = new LevelDatastore(store.db.location)
    await plain.open()
    expect([...await plain.get(key)]).toEqual([2])
    await plain.close()
  })

  it('fails every write of a batch that LevelDB refuses, and a missing block reads as NotFoundError', async () => {
    const store = new FastLevelBlockstore(join(await tempDir(), 'blocks'))
    await store.open()
    const bytes = randomBytes(32)
    await expect(collect(store.get(cidOf(bytes)))).rejects.toMatchObject({ name: 'NotFoundError' })
    await store.close()
    const writes = [randomBytes(8), randomBytes(8)].map(async b => await store.put(cidOf(b), b))
    for (const write of writes) await expect(write).rejects.toThrow(/not open/i)
  })
})
