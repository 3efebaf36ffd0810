import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileLease } from '../core/file-lock.js'
import { fileWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'

const dirs: string[] = []
async function temp (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'remotelog-lease-'))
  dirs.push(dir)
  return dir
}
afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })

describe('FileLease: a lock kept between back-to-back sections', () => {
  it('keeps the lock across sections, lets another holder in once idle, and gives it back on close', async () => {
    const path = join(await temp(), 'locks', 'x.lock')
    const a = new FileLease(path, 30)
    const b = new FileLease(path, 30)
    await a.run(async () => {})
    const first = a.heldSince
    await a.run(async () => {})
    expect(a.heldSince, 'the second section found the lock still held').toBe(first)
    const order: string[] = []
    const other = b.run(async () => { order.push('b') })
    await a.run(async () => { order.push('a') })
    await other
    expect(order, 'the other holder waited for the idle lease to end').toEqual(['a', 'b'])
    expect(a.heldSince, 'a lost the lock to b').toBeUndefined()
    await b.close()
    expect(await readdir(join(path, '..'))).toEqual([])
  })

  it('two writers on one state dir: each sees the other\'s appends and publishes', async () => {
    const dir = await temp()
    const cas = memoryCas()
    const ns = memoryNs()
    const owner = { label: 'alice', secret: randomBytes(32) }
    const open = async (): Promise<LogWriter> => await LogWriter.open({ cas, ns, owner, storage: fileWriterStorage(dir, { durability: 'process' }) })
    const [one, two] = [await open(), await open()]
    const seqs: number[] = []
    for (let round = 0; round < 5; round++) {
      seqs.push(...await one.append([`one-${round}`]))
      seqs.push(...await two.append([`two-${round}`]))
      await (round % 2 === 0 ? one : two).publish()
    }
    expect(seqs).toEqual([...Array(10).keys()])
    await one.publish()
    expect((await ns.resolve(one.name)).length).toBe(10)
    expect(await two.publish(), 'the other writer has nothing left to publish').toBeUndefined()
    expect(two.length).toBe(10)
  })
})
