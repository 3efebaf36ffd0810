import { describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire'
import { toJson, fromBinary, toBinary, create } from '@bufbuild/protobuf'
import { RemoteLogSchema, RemoteLog_PairSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { decodePage, encodePage, PAGE_FORMAT } from '../core/page.js'
import { cidOf, sha256 } from '../core/ids.js'
import { mvdsId } from '../core/mvds.js'

/** A reader that knows only the RFC's fields (RemoteLog 1-2, Pair 1-3) and skips the rest. */
function decodeAsRfc (bytes: Uint8Array): { pairs: Array<{ remoteHash: Uint8Array, localHash: Uint8Array, data: Uint8Array }>, tail: Uint8Array } {
  const reader = new BinaryReader(bytes)
  const out: { pairs: Array<{ remoteHash: Uint8Array, localHash: Uint8Array, data: Uint8Array }>, tail: Uint8Array } = { pairs: [], tail: new Uint8Array() }
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag()
    if (field === 1) {
      const pair = new BinaryReader(reader.bytes())
      const p: { remoteHash: Uint8Array, localHash: Uint8Array, data: Uint8Array } = { remoteHash: new Uint8Array(), localHash: new Uint8Array(), data: new Uint8Array() }
      while (pair.pos < pair.len) {
        const [f, w] = pair.tag()
        if (f === 1) p.remoteHash = pair.bytes()
        else if (f === 2) p.localHash = pair.bytes()
        else if (f === 3) p.data = pair.bytes()
        else pair.skip(w)
      }
      out.pairs.push(p)
    } else if (field === 2) out.tail = reader.bytes()
    else reader.skip(wire)
  }
  return out
}

describe('wire compatibility with the RFC', () => {
  it('decodes a page written by hand with only the RFC field numbers', () => {
    const tail = cidOf(new Uint8Array([1]))
    const payload = cidOf(new Uint8Array([2]))
    const w = new BinaryWriter()
    w.tag(1, WireType.LengthDelimited).fork()
      .tag(1, WireType.LengthDelimited).bytes(payload.bytes)
      .tag(2, WireType.LengthDelimited).bytes(sha256(new Uint8Array([2])))
      .join()
    w.tag(1, WireType.LengthDelimited).fork()
      .tag(2, WireType.LengthDelimited).bytes(new Uint8Array([9, 9]))
      .tag(3, WireType.LengthDelimited).bytes(new TextEncoder().encode('inline'))
      .join()
    w.tag(2, WireType.LengthDelimited).bytes(tail.bytes)
    const page = decodePage(w.finish())
    expect(page.format).toBe(0)
    expect(page.firstSeq).toBeUndefined()
    expect(page.tail?.equals(tail)).toBe(true)
    expect(page.entries).toHaveLength(2)
    expect(page.entries[0].remoteHash?.equals(payload)).toBe(true)
    expect(new TextDecoder().decode(page.entries[1].data)).toBe('inline')
  })

  it('writes pages an RFC-only reader decodes (our additions are skipped as unknown fields)', () => {
    const data = new TextEncoder().encode('hello')
    const remote = cidOf(data)
    const tail = cidOf(new Uint8Array([7]))
    const bytes = encodePage({ format: PAGE_FORMAT, firstSeq: 40, entries: [{ seq: 40, localHash: sha256(data), remoteHash: remote }, { seq: 41, localHash: sha256(data), data }], tail, length: 42, revision: 3, scrubbed: [5] })
    const rfc = decodeAsRfc(bytes)
    expect(rfc.pairs).toHaveLength(2)
    expect(Buffer.from(rfc.pairs[0].remoteHash).equals(Buffer.from(remote.bytes))).toBe(true)
    expect(new TextDecoder().decode(rfc.pairs[1].data)).toBe('hello')
    expect(Buffer.from(rfc.tail).equals(Buffer.from(tail.bytes))).toBe(true)
  })

  it('has a proto3 JSON form with bytes as base64', () => {
    const data = new TextEncoder().encode('hi')
    const bytes = encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: [{ seq: 0, localHash: sha256(data), data }], length: 1, revision: 1, scrubbed: [] })
    const json = toJson(RemoteLogSchema, fromBinary(RemoteLogSchema, bytes)) as { pair: Array<{ data: string }>, length: string }
    expect(json.pair[0].data).toBe(Buffer.from('hi').toString('base64'))
    expect(json.length).toBe('1')
  })
})

describe('MVDS message ids', () => {
  // Vectors computed independently (Python hashlib) from the formula
  // sha256("MESSAGE_ID" ‖ group_id ‖ uint64le(timestamp) ‖ body).
  it.each([
    [Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 1234567890n, Buffer.from('hello mvds'), 'd482a0cbdba80da843f4c3152f4d747fab0e903319356bf5aed6a7feb788aab2'],
    [Buffer.alloc(32), 0n, Buffer.alloc(0), '8e1c3d0b1fad10ac2ac58d077a28f5d81d34384b4a39ff7855247a1b4890f42b'],
    [Buffer.alloc(32, 0xff), 2n ** 64n - 1n, Buffer.from(Array.from({ length: 256 }, (_, i) => i)), '377b94e49c327625fe70bf2c534c17368b53c2681d815a2ec7acdf5c1db6628b']
  ])('matches the reference formula (vector %#)', (group, timestamp, body, expected) => {
    expect(Buffer.from(mvdsId(group, timestamp, body)).toString('hex')).toBe(expected)
  })

  it('a page entry with MVDS fields whose id does not match is rejected', () => {
    const group = Buffer.alloc(32, 1)
    const data = new TextEncoder().encode('body')
    const good = mvdsId(group, 5n, data)
    const ok = encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: [{ seq: 0, localHash: good, data, groupId: group, timestamp: 5n }], length: 1, revision: 1, scrubbed: [] })
    expect(decodePage(ok).entries[0].groupId).toBeDefined()
    const bad = encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: [{ seq: 0, localHash: good, data, groupId: group, timestamp: 6n }], length: 1, revision: 1, scrubbed: [] })
    expect(() => decodePage(bad)).toThrow(/MVDS id/)
  })
})

describe('generated protobuf code', () => {
  it('is what `npm run generate` makes from proto/ (not stale, not hand-edited)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'remotelog-gen-'))
    const template = JSON.stringify({ version: 'v2', plugins: [{ local: 'protoc-gen-es', out, opt: ['target=ts', 'import_extension=js'] }] })
    execFileSync('npx', ['buf', 'generate', 'proto', '--template', template], { stdio: 'pipe' })
    const files = (readdirSync(out, { recursive: true }) as string[]).filter(f => f.endsWith('.ts')).sort()
    expect(files.length).toBe(3)
    for (const file of files) {
      expect(await readFile(join('proto/gen', file), 'utf8'), `proto/gen/${relative('.', file)} is stale: run npm run generate`).toBe(await readFile(join(out, file), 'utf8'))
    }
  })
})

describe('page encoding', () => {
  it('writes exactly the bytes the generated encoder writes for the whole message', () => {
    const data = new TextEncoder().encode('payload')
    const entries = [
      { seq: 10, localHash: sha256(data), data },
      { seq: 11, localHash: sha256(data), remoteHash: cidOf(data) },
      { seq: 12, localHash: sha256(data), tombstone: true },
      { seq: 13, localHash: mvdsId(Buffer.alloc(32, 2), 9n, data), data, groupId: Buffer.alloc(32, 2), timestamp: 9n }
    ]
    const page = { format: PAGE_FORMAT, firstSeq: 10, entries, tail: cidOf(new Uint8Array([1])), length: 14, revision: 7, scrubbed: [3, 12] }
    const whole = toBinary(RemoteLogSchema, create(RemoteLogSchema, {
      pair: entries.map(e => create(RemoteLog_PairSchema, { remoteHash: e.remoteHash?.bytes, localHash: e.localHash, data: e.data, tombstone: e.tombstone === true, groupId: e.groupId, timestamp: e.timestamp })),
      tail: page.tail.bytes, format: PAGE_FORMAT, firstSeq: 10n, count: 4, length: 14n, revision: 7n, scrubbed: [3n, 12n]
    }))
    expect(Buffer.from(encodePage(page)).equals(Buffer.from(whole))).toBe(true)
    expect(Buffer.from(encodePage(page)).equals(Buffer.from(whole))).toBe(true)
  })
})
