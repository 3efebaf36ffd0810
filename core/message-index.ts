import { appendFile, open, rm, writeFile } from 'node:fs/promises'

/** One index point every this many messages: a read seeks to the point, then scans at most this many. */
export const INDEX_STRIDE = 256

/**
 * A sparse index of a follower's messages file (`messages.idx` beside it): the byte offset of every
 * INDEX_STRIDE-th message (seq 0, 256, 512, …), as little-endian u64s. Derived data: written after
 * the messages, never flushed on its own, and checked on use — a point that does not land on the
 * record of its sequence number is ignored, and the read starts from the beginning.
 */
export class MessageIndex {
  constructor (readonly path: string) {}

  /** Records the start offsets of the messages `firstSeq`, `firstSeq + 1`, … that fall on a point. */
  async add (firstSeq: number, starts: readonly number[]): Promise<void> {
    const points: number[] = []
    for (let i = 0; i < starts.length; i++) if ((firstSeq + i) % INDEX_STRIDE === 0) points.push(starts[i])
    if (points.length === 0) return
    const bytes = Buffer.alloc(points.length * 8)
    points.forEach((offset, i) => bytes.writeBigUInt64LE(BigInt(offset), i * 8))
    // Points for every earlier message must be there, or this one would land at the wrong place:
    // then the index starts again (from a rewrite at seq 0, or empty until the next rebuild).
    const expected = Math.ceil(firstSeq / INDEX_STRIDE)
    if ((await this.points()) !== expected) {
      await this.clear()
      if (expected !== 0) return
    }
    await appendFile(this.path, bytes, { mode: 0o600 })
  }

  /** Replaces the index with `points`: the offsets of the messages 0, INDEX_STRIDE, 2 × INDEX_STRIDE, … */
  async rebuild (points: readonly number[]): Promise<void> {
    const bytes = Buffer.alloc(points.length * 8)
    points.forEach((offset, i) => bytes.writeBigUInt64LE(BigInt(offset), i * 8))
    await writeFile(this.path, bytes, { mode: 0o600 })
  }

  async clear (): Promise<void> {
    await rm(this.path, { force: true })
  }

  /** The nearest point at or before `seq`: where the read may start, and the seq found there. */
  async seek (seq: number): Promise<{ seq: number, offset: number }> {
    const point = Math.floor(seq / INDEX_STRIDE)
    if (point === 0) return { seq: 0, offset: 0 }
    let handle
    try {
      handle = await open(this.path, 'r')
    } catch {
      return { seq: 0, offset: 0 }
    }
    try {
      const size = (await handle.stat()).size
      const usable = Math.min(point, Math.floor(size / 8) - 1)
      if (usable <= 0) return { seq: 0, offset: 0 }
      const bytes = Buffer.alloc(8)
      await handle.read(bytes, 0, 8, usable * 8)
      return { seq: usable * INDEX_STRIDE, offset: Number(bytes.readBigUInt64LE(0)) }
    } finally {
      await handle.close()
    }
  }

  private async points (): Promise<number> {
    try {
      const handle = await open(this.path, 'r')
      try {
        return Math.floor((await handle.stat()).size / 8)
      } finally {
        await handle.close()
      }
    } catch {
      return 0
    }
  }
}
