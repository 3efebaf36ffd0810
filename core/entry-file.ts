import { open, readFile, stat, truncate, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { crc32 } from 'node:zlib'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { RemoteLog_PairSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { syncDir, type Durability } from './durable-file.js'
import { fail } from './errors.js'

/** An entry as kept on the endpoint's disk: a journaled append or a delivered message. */
export interface StoredEntry {
  seq: number
  localHash: Uint8Array
  payload?: Uint8Array
  tombstone?: boolean
  groupId?: Uint8Array
  timestamp?: bigint
}

/**
 * Record layout: [u32 pair length][u32 flags][f64 seq][u32 crc32 of the pair][u32 crc32 of the
 * 20 bytes before] then the vac.remotelog.Pair bytes. The records of one `append` form a batch
 * whose last record has the END flag: a batch is kept whole or not at all.
 */
export const RECORD_HEADER = 24
const END = 1

/** Encodes entries as one batch of records; `starts` (if given) receives each record's offset in it. */
export function encodeEntries (entries: readonly StoredEntry[], starts?: number[]): Buffer {
  const parts: Buffer[] = []
  let offset = 0
  entries.forEach((e, i) => {
    const pair = toBinary(RemoteLog_PairSchema, create(RemoteLog_PairSchema, {
      localHash: e.localHash, data: e.payload, tombstone: e.tombstone === true, groupId: e.groupId, timestamp: e.timestamp
    }))
    const header = Buffer.alloc(RECORD_HEADER)
    header.writeUInt32LE(pair.byteLength, 0)
    header.writeUInt32LE(i === entries.length - 1 ? END : 0, 4)
    header.writeDoubleLE(e.seq, 8)
    header.writeUInt32LE(crc32(pair), 16)
    header.writeUInt32LE(crc32(header.subarray(0, 20)), 20)
    parts.push(header, Buffer.from(pair.buffer, pair.byteOffset, pair.byteLength))
    starts?.push(offset)
    offset += RECORD_HEADER + pair.byteLength
  })
  return Buffer.concat(parts)
}

/** One whole record found by `scanRecords`, at `offset` in the bytes scanned. */
interface Record { entry: StoredEntry, offset: number, end: number, last: boolean }

/** Where a record fails its checks: the scan stops there. */
export interface BadRecord { offset: number, reason: string }

function isZero (bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0) return false
  return true
}

/**
 * Reads the record at `offset`: the record, `undefined` when the bytes end before it does (a torn
 * tail, or simply not read yet), or what is wrong with it.
 */
export function readRecord (buf: Buffer, offset: number): Record | BadRecord | undefined {
  if (offset + RECORD_HEADER > buf.length) return undefined
  const header = buf.subarray(offset, offset + RECORD_HEADER)
  if (header.readUInt32LE(20) !== crc32(header.subarray(0, 20))) {
    // Zeros where a record should be: space a power cut allocated but never filled.
    if (isZero(buf.subarray(offset))) return undefined
    return { offset, reason: 'header checksum mismatch' }
  }
  const size = header.readUInt32LE(0)
  const end = offset + RECORD_HEADER + size
  if (end > buf.length) return undefined
  const body = buf.subarray(offset + RECORD_HEADER, end)
  if (header.readUInt32LE(16) !== crc32(body)) return { offset, reason: 'checksum mismatch' }
  let pair
  try {
    pair = fromBinary(RemoteLog_PairSchema, body)
  } catch {
    return { offset, reason: 'does not decode' }
  }
  const entry: StoredEntry = { seq: header.readDoubleLE(8), localHash: pair.localHash }
  if (pair.tombstone) entry.tombstone = true
  else entry.payload = pair.data
  if (pair.groupId.byteLength > 0) { entry.groupId = pair.groupId; entry.timestamp = pair.timestamp }
  return { entry, offset, end, last: (header.readUInt32LE(4) & END) !== 0 }
}

function isBad (r: Record | BadRecord | undefined): r is BadRecord {
  return r !== undefined && 'reason' in r
}

/**
 * Decodes the whole batches in `bytes`: their entries, where each ends, and how many bytes they
 * used. What follows the last whole batch is left out: a torn tail, or bytes not read yet. A
 * record that fails its checksum is MALFORMED naming `path` and its offset (`base` + offset).
 */
export function decodeEntries (bytes: Uint8Array, path = 'entry file', base = 0): { entries: StoredEntry[], ends: number[], used: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: StoredEntry[] = []
  const ends: number[] = []
  let used = 0
  let batch = 0
  for (let offset = 0; ;) {
    const record = readRecord(buf, offset)
    if (record === undefined) break
    if (isBad(record)) throw corrupt(path, base + record.offset, record.reason)
    entries.push(record.entry)
    ends.push(record.end)
    batch++
    offset = record.end
    if (record.last) {
      used = offset
      batch = 0
    }
  }
  if (batch > 0) {
    entries.length -= batch
    ends.length -= batch
  }
  return { entries, ends, used }
}

function corrupt (path: string, offset: number, reason: string): Error {
  return fail('MALFORMED', `${path}: the record at byte ${offset} is corrupt (${reason}); run \`remotelog fsck\` to see what is intact and \`remotelog fsck --repair\` to keep it`, { details: { file: path, offset } })
}

/**
 * Scans a whole file's bytes and keeps every intact batch, stepping over damaged records (a
 * checksum mismatch, or a damaged header: the scan then looks for the next intact header).
 */
export function salvageEntries (bytes: Uint8Array): { entries: StoredEntry[], bad: BadRecord[], torn: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: StoredEntry[] = []
  const bad: BadRecord[] = []
  let batch: StoredEntry[] = []
  let batchStart = 0
  let offset = 0
  let skipping = false
  while (offset < buf.length) {
    const record = readRecord(buf, offset)
    if (record === undefined) break
    if (isBad(record)) {
      if (!skipping) bad.push(record)
      // Salvage keeps every intact record, also those of a batch with a damaged one.
      for (const e of batch) entries.push(e)
      batch = []
      const size = buf.readUInt32LE(offset)
      const headerOk = record.reason !== 'header checksum mismatch'
      skipping = !headerOk
      offset = headerOk && offset + RECORD_HEADER + size <= buf.length ? offset + RECORD_HEADER + size : offset + 1
      continue
    }
    skipping = false
    if (batch.length === 0) batchStart = record.offset
    batch.push(record.entry)
    offset = record.end
    if (record.last) {
      for (const e of batch) entries.push(e)
      batch = []
    }
  }
  const torn = buf.length - (batch.length > 0 ? batchStart : offset)
  return { entries, bad, torn: Math.max(0, torn) }
}

/**
 * An append-only file of entries (the writer's journal, a follower's messages). Each `append` is
 * one batch, kept whole or not at all; with `fsync` durability it is on disk when `append`
 * returns. A batch torn by a crash is cut off by the next `readAll` (called under the file's lock);
 * any other damaged record is MALFORMED, never skipped in silence.
 */
export class EntryFile {
  constructor (readonly path: string, private readonly durability: Durability = 'fsync') {}

  /** Reads every whole batch and cuts off a torn tail. Only under the lock of whoever appends. */
  async readAll (): Promise<StoredEntry[]> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
    const { entries, used } = decodeEntries(bytes, this.path)
    if (used < bytes.length) await truncate(this.path, used)
    return entries
  }

  /** Appends one batch: all of it or, when the write fails, none of it. Returns where each record starts. */
  async append (entries: readonly StoredEntry[]): Promise<number[]> {
    if (entries.length === 0) return []
    const starts: number[] = []
    const bytes = encodeEntries(entries, starts)
    let handle: FileHandle
    let created = false
    try {
      handle = await open(this.path, 'r+')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      handle = await open(this.path, 'a+', 0o600)
      created = true
    }
    const durable = this.durability === 'fsync'
    let before: number
    try {
      before = (await handle.stat()).size
      try {
        let written = 0
        while (written < bytes.length) written += (await handle.write(bytes, written, bytes.length - written, before + written)).bytesWritten
        if (durable) await handle.datasync()
      } catch (e) {
        await handle.truncate(before).catch(() => {})
        throw e
      }
    } finally {
      await handle.close()
    }
    if (created && durable) await syncDir(dirname(this.path))
    return starts.map(start => before + start)
  }

  async size (): Promise<number> {
    try {
      return (await stat(this.path)).size
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw e
    }
  }

  /**
   * Streams the entries of whole batches from byte `offset` on, each with the offset where its
   * record ends, without reading the whole file at once. Never cuts anything off.
   */
  async * read (offset = 0, chunkBytes = 1 << 20): AsyncGenerator<{ entry: StoredEntry, end: number }> {
    let handle: FileHandle
    try {
      handle = await open(this.path, 'r')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
      throw e
    }
    try {
      let carry = Buffer.alloc(0)
      let position = offset
      for (;;) {
        // A batch larger than a chunk: read more at once.
        const want = Math.max(chunkBytes, carry.length)
        const chunk = Buffer.alloc(want)
        const { bytesRead } = await handle.read(chunk, 0, want, position + carry.length)
        if (bytesRead === 0) return
        const bytes = carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)])
        const { entries, ends, used } = decodeEntries(bytes, this.path, position)
        for (let i = 0; i < entries.length; i++) yield { entry: entries[i], end: position + ends[i] }
        position += used
        carry = bytes.subarray(used)
      }
    } finally {
      await handle.close()
    }
  }
}
