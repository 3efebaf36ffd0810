import { randomBytes } from 'node:crypto'
import type { ContentStore } from '../../core/content-store.js'
import type { LogMode } from '../../core/log-options.js'
import type { NameSystem, OwnerKey } from '../../core/name-system.js'
import type { Message } from '../../core/reader.js'
import { LogReader } from '../../core/reader.js'
import { memoryWriterStorage, type WriterStorage } from '../../core/writer-storage.js'
import { LogWriter, type AppendInput } from '../../core/writer.js'

/** One message as a reader must get it back. */
export interface Expected { seq: number, payload: Uint8Array, localHash?: Uint8Array }

export interface MixedLog {
  owner: OwnerKey
  storage: WriterStorage
  writer: LogWriter
  name: string
  expected: Expected[]
}

/** Modes in order and how many messages each writes (in publishes of `batch`). */
export type Segments = Array<[LogMode, number]>

/**
 * Writes a log whose pages mix modes: the writer is reopened in each mode in turn. Payloads vary
 * in size, every 50th is an MVDS message, and every 97th repeats an earlier payload's bytes.
 */
export async function mixedLog (cas: ContentStore, ns: NameSystem, segments: Segments, options: { pageEntries?: number, batch?: number } = {}): Promise<MixedLog> {
  const owner = { label: 'alice', secret: randomBytes(32) }
  const storage = memoryWriterStorage()
  const expected: Expected[] = []
  const batch = options.batch ?? 250
  let writer: LogWriter | undefined
  let seq = 0
  for (const [mode, count] of segments) {
    writer = await LogWriter.open({ cas, ns, owner, storage, log: { mode, pageEntries: options.pageEntries ?? 100, inlineRecent: 16 } })
    for (let done = 0; done < count; done += batch) {
      const inputs: AppendInput[] = []
      for (let i = 0; i < Math.min(batch, count - done); i++, seq++) {
        const payload = seq % 97 === 96 ? expected[seq - 90].payload : Buffer.concat([Buffer.from(`${mode} message ${seq} `), randomBytes(seq % 300)])
        if (seq % 50 === 0) inputs.push({ payload, groupId: randomBytes(32), timestamp: BigInt(seq) })
        else inputs.push(payload)
        expected.push({ seq, payload })
      }
      await writer.append(inputs)
      await writer.publish()
    }
  }
  return { owner, storage, writer: writer!, name: writer!.name, expected }
}

/** Reads a whole log from scratch, as a fresh reader. */
export async function readAll (cas: ContentStore, ns: NameSystem, name: string): Promise<Message[]> {
  const sync = new LogReader({ cas, ns, name }).sync({ length: 0 })
  const messages: Message[] = []
  for await (const m of sync.messages) messages.push(m)
  await sync.done
  return messages
}
