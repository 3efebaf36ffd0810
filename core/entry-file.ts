import { open, readFile, stat, truncate, appendFile, type FileHandle } from 'node:fs/promises'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { RemoteLog_PairSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
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

const HEADER = 12 // uint32 length of the pair bytes + float64 sequence number

/** Encodes entries as one buffer of records: [u32 length][f64 seq][vac.remotelog.Pair bytes]. */
export function encodeEntries (entries: StoredEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    const pair = toBinary(RemoteLog_PairSchema, create(RemoteLog_PairSchema, {
      localHash: e.localHash, data: e.payload, tombstone: e.tombstone === true, groupId: e.groupId, timestamp: e.timestamp
    }))
    const header = Buffer.alloc(HEADER)
    header.writeUInt32LE(pair.byteLength, 0)
    header.writeDoubleLE(e.seq, 4)
    parts.push(header, Buffer.from(pair.buffer, pair.byteOffset, pair.byteLength))
  }
  return Buffer.concat(parts)
}

/** Decodes whole records from `bytes`; returns them and how many bytes they used (a torn tail is left out). */
export function decodeEntries (bytes: Uint8Array): { entries: StoredEntry[], used: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: StoredEntry[] = []
  let offset = 0
  while (offset + HEADER <= buf.length) {
    const size = buf.readUInt32LE(offset)
    if (offset + HEADER + size > buf.length) break
    const seq = buf.readDoubleLE(offset + 4)
    let pair
    try {
      pair = fromBinary(RemoteLog_PairSchema, buf.subarray(offset + HEADER, offset + HEADER + size))
    } catch (cause) {
      throw fail('MALFORMED', `entry file record at byte ${offset} does not decode`, { cause })
    }
    const entry: StoredEntry = { seq, localHash: pair.localHash }
    if (pair.tombstone) entry.tombstone = true
    else entry.payload = pair.data
    if (pair.groupId.byteLength > 0) { entry.groupId = pair.groupId; entry.timestamp = pair.timestamp }
    entries.push(entry)
    offset += HEADER + size
  }
  return { entries, used: offset }
}

/**
 * An append-only file of entries (the writer's journal, a follower's messages). Appends are one
 * write each; a record torn by a crash is cut off when the file is next opened.
 */
export class EntryFile {
  constructor (readonly path: string) {}

  /** Reads every whole record, cutting off a torn tail. */
  async readAll (): Promise<StoredEntry[]> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
    const { entries, used } = decodeEntries(bytes)
    if (used < bytes.length) await truncate(this.path, used)
    return entries
  }

  async append (entries: StoredEntry[]): Promise<void> {
    if (entries.length > 0) await appendFile(this.path, encodeEntries(entries))
  }

  async size (): Promise<number> {
    try {
      return (await stat(this.path)).size
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw e
    }
  }

  /** Streams records from byte `offset` on, in chunks, without reading the whole file at once. */
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
        const chunk = Buffer.alloc(chunkBytes)
        const { bytesRead } = await handle.read(chunk, 0, chunkBytes, position + carry.length)
        if (bytesRead === 0) return
        const bytes = Buffer.concat([carry, chunk.subarray(0, bytesRead)])
        const { entries, used } = decodeEntries(bytes)
        let end = position
        for (const entry of entries) {
          end += HEADER + encodedPairSize(bytes, end - position)
          yield { entry, end }
        }
        position += used
        carry = bytes.subarray(used)
      }
    } finally {
      await handle.close()
    }
  }
}

function encodedPairSize (bytes: Buffer, offset: number): number {
  return bytes.readUInt32LE(offset)
}
