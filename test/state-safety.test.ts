import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { localNs } from '../adapters/ns/local.js'
import { Endpoint } from '../core/endpoint.js'
import type { Durability } from '../core/durable-file.js'
import { MAX_OBJECT_BYTES } from '../core/ids.js'
import { tempDir } from './support/temp-dir.js'

// Counts flushes to disk per file, by watching every file handle the code under test opens.
const flushes = vi.hoisted(() => new Map<string, number>())
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const open: typeof fs.open = async (path, ...rest) => {
    const handle = await fs.open(path, ...rest)
    const name = String(path).split('/').at(-1)!.replace(/\.[0-9a-f]{12}\.tmp$/, '')
    for (const method of ['sync', 'datasync'] as const) {
      const flush = handle[method].bind(handle)
      handle[method] = async () => { flushes.set(name, (flushes.get(name) ?? 0) + 1); await flush() }
    }
    return handle
  }
  return { ...fs, default: { ...fs, open }, open }
})

async function endpoint (durability?: Durability): Promise<Endpoint> {
  const root = await tempDir()
  return await Endpoint.open({ dir: join(root, 'state'), cas: memoryCas(), ns: localNs({ path: join(root, 'names') }), durability })
}

describe('durability', () => {
  it('flushes the journal once per append call, however many messages it carries, and state files on publish', async () => {
    const alice = await endpoint()
    try {
      await alice.append(['warm-up']) // creates the log: key, folders
      flushes.clear()
      await alice.append(Array.from({ length: 1000 }, (_, i) => `m${i}`))
      await alice.append(['one more'])
      expect(flushes.get('journal')).toBe(2)
      flushes.clear()
      await alice.publish()
      // state.json twice (intent, then done), the journal reset, the name record; each folder too.
      expect(flushes.get('state.json')).toBe(2)
      expect(flushes.get('journal')).toBe(1)
      expect([...flushes.keys()].some(k => k.endsWith('.record'))).toBe(true)
      expect(flushes.get('default')).toBeGreaterThanOrEqual(3) // logs/default folder after each rename
    } finally {
      await alice.close()
    }
  })

  it('with durability "process" never flushes the journal or the state', async () => {
    const alice = await endpoint('process')
    try {
      await alice.append(['warm-up'])
      flushes.clear()
      await alice.append(['a', 'b'])
      await alice.publish()
      expect(flushes.get('journal')).toBeUndefined()
      expect(flushes.get('state.json')).toBeUndefined()
    } finally {
      await alice.close()
    }
  })
})

describe('appends of any size', () => {
  it('appends 130,000 messages in one call and publishes them', async () => {
    const alice = await endpoint('process')
    try {
      const seqs = await alice.append(Array.from({ length: 130_000 }, (_, i) => `line ${i}`))
      expect(seqs.at(-1)).toBe(129_999)
      expect((await alice.publish())?.length).toBe(130_000)
      let n = 0
      for await (const m of alice.read('log:default', { from: 129_998 })) n += m.seq
      expect(n).toBe(129_998 + 129_999)
    } finally {
      await alice.close()
    }
  })

  it('journals nothing of an append with one bad message in it (all or nothing)', async () => {
    const alice = await endpoint()
    try {
      await alice.append(['kept'])
      const journal = join(alice.options.dir, 'logs', 'default', 'journal')
      const before = await readFile(journal)
      await expect(alice.append(['a', new Uint8Array(MAX_OBJECT_BYTES + 1), 'c'])).rejects.toMatchObject({ code: 'TOO_LARGE' })
      expect(await readFile(journal)).toEqual(before)
      expect(await alice.append(['next'])).toEqual([1])
    } finally {
      await alice.close()
    }
  })
})

describe('secrets and messages stay private', () => {
  it('creates keys, state, journals and delivered messages readable by the owner only', async () => {
    const alice = await endpoint()
    try {
      await alice.append(['secret'], { log: 'other' })
      await alice.publish({ log: 'other' })
      await alice.append(['pending'])
      await alice.follow(await alice.address('other'), 'self')
      await alice.sync('self')
      const dir = alice.options.dir
      for (const file of ['keys.json', 'logs/other/state.json', 'logs/default/journal', 'follows/self/follow.json', 'follows/self/messages']) {
        expect((await stat(join(dir, file))).mode & 0o777, file).toBe(0o600)
      }
      for (const folder of ['logs', 'logs/other', 'follows', 'follows/self', 'locks']) {
        expect((await stat(join(dir, folder))).mode & 0o777, folder).toBe(0o700)
      }
    } finally {
      await alice.close()
    }
  })
})

describe('names are names', () => {
  it('refuses aliases that leave their folder, and derives a safe one from a dot name', async () => {
    const alice = await endpoint()
    try {
      const address = await alice.address()
      for (const alias of ['.', '..', '../x', 'a/b', '.hidden', '']) {
        await expect(alice.follow(address, alias)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
        await expect(alice.unfollow(alias)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
      }
      expect((await alice.follow('local:..')).alias).toBe('log')
      expect((await alice.follow(`local:.${address.slice(6)}`)).alias).toBe(address.slice(6))
    } finally {
      await alice.close()
    }
  })

  it('says NOT_FOUND for a log that does not exist instead of creating it', async () => {
    const alice = await endpoint()
    try {
      await alice.append(['x'])
      const keys = await readFile(join(alice.options.dir, 'keys.json'), 'utf8')
      await expect(alice.address('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(alice.publish({ log: 'other' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
      const read = async (): Promise<void> => { for await (const _ of alice.read('log:nope')); }
      await expect(read()).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(await readFile(join(alice.options.dir, 'keys.json'), 'utf8')).toBe(keys)
      expect(await alice.logs()).toEqual(['default'])
      await alice.append(['made on purpose'], { log: 'nope' })
      expect(await alice.logs()).toEqual(['default', 'nope'])
    } finally {
      await alice.close()
    }
  })
})
