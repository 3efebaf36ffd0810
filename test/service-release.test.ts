import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { afterAll, describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { callWithRetries, twirpServiceClient } from '../adapters/twirp-client.js'
import type { ContentStore } from '../core/content-store.js'
import { logIdOfOwner } from '../core/log-id.js'
import type { OwnerKey } from '../core/name-system.js'
import { encodePage, PAGE_FORMAT, type Entry } from '../core/page.js'
import { decodePageHeader } from '../core/page-header.js'
import { LogReader, type Message } from '../core/reader.js'
import { keyPairFromSecret } from '../core/signed-record.js'
import { RELEASE_MAX_AHEAD_MS, signReleaseAs } from '../core/signed-release.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'
import { startRemoteLogService } from '../devnet/remote-log-service.js'
import { startService } from '../service/server.js'
import { CAS } from '../proto/gen/vac/cas/cas_pb.js'
import { expectCode } from './conformance/cas.js'
import { tempDir } from './support/temp-dir.js'

// Release (vac.cas.CAS/Release): the owner of a log deletes its replaced pages on the service; nothing else may.

const dir = await tempDir('remotelog-release-')
const service = await startRemoteLogService({ dir })
afterAll(async () => { await service.stop() })
const cas = twirpCas({ url: service.url, retries: 0 })
const ns = twirpNs({ url: service.url })
const raw = twirpServiceClient(CAS, { url: service.url })

const newOwner = (): OwnerKey => ({ label: 'log', secret: randomBytes(32) })

/** Sends a release as given (forged or not) and answers `released`, or throws the remotelog error. */
async function send (id: CID, owner: OwnerKey, tamper: (r: { id: Uint8Array, notAfter: bigint, publicKey: Uint8Array, signature: Uint8Array }) => void = () => {}, notAfter?: number): Promise<boolean> {
  const signed = signReleaseAs(id, owner.secret, notAfter)
  const request = { id: id.bytes, notAfter: BigInt(signed.notAfter), publicKey: signed.publicKey, signature: Buffer.from(signed.signature) }
  tamper(request)
  const { released } = await callWithRetries({ url: service.url, retries: 0 }, 'twirp', undefined, async () => await raw.release(request))
  return released
}

/** Puts a page of `owner`'s log (or of `logId`): entries firstSeq … firstSeq+count-1, inline. */
async function page (owner: OwnerKey, firstSeq: number, count: number, revision: number, tail?: CID, logId = logIdOfOwner(owner)): Promise<CID> {
  const entries: Entry[] = Array.from({ length: count }, (_, i) => {
    const data = randomBytes(8)
    return { seq: firstSeq + i, localHash: randomBytes(32), data }
  })
  return await cas.put(encodePage({ format: PAGE_FORMAT, firstSeq, entries, tail, length: firstSeq + count, revision, scrubbed: [], logId: Buffer.from(logId, 'hex') }))
}

/** A log of `owner` on the service: page A (rev 1) replaced by B (rev 2), head C (rev 2) → B. */
async function replacedLog (owner: OwnerKey): Promise<{ replaced: CID, inLog: CID, head: CID, name: string }> {
  const name = await ns.nameOf(owner)
  const replaced = await page(owner, 0, 2, 1)
  await ns.publish(name, { head: replaced, length: 2, revision: 1 }, owner)
  const inLog = await page(owner, 0, 4, 2)
  const head = await page(owner, 4, 1, 2, inLog)
  await ns.publish(name, { head, length: 5, revision: 2 }, owner, { previous: replaced })
  return { replaced, inLog, head, name }
}

describe('CAS Release on the service', () => {
  it('the owner releases a page a publish replaced: it is gone; releasing it again is harmless', async () => {
    const owner = newOwner()
    const { replaced, head } = await replacedLog(owner)
    expect(await send(replaced, owner)).toBe(true)
    expect(await cas.has(replaced)).toBe(false)
    expect(await send(replaced, owner)).toBe(false) // idempotent: already gone
    await cas.release!(replaced, { owner }) // the adapter's way, as the writer calls it
    expect(await cas.has(head)).toBe(true)
  })

  it('another key cannot release it (PERMISSION), nor can a release without a key', async () => {
    const owner = newOwner()
    const { replaced } = await replacedLog(owner)
    const mallory = newOwner()
    await expectCode(cas.release!(replaced, { owner: mallory }), 'PERMISSION')
    // Mallory's own log claiming the owner's log id gains nothing: the id is derived from the key.
    const log = await replacedLog(mallory)
    await ns.publish(log.name, { head: await page(mallory, 5, 1, 3, undefined, logIdOfOwner(owner)), length: 6, revision: 3 }, mallory, { previous: log.head })
    await expectCode(cas.release!(replaced, { owner: mallory }), 'PERMISSION')
    await cas.release!(replaced) // no owner: nothing is sent, nothing deleted
    expect(await cas.has(replaced)).toBe(true)
  })

  it('a page of a log with a random (not key-derived) log id, and a payload, are nobody\'s to release', async () => {
    const owner = newOwner()
    const old = await page(owner, 0, 1, 1, undefined, randomBytes(16).toString('hex'))
    await expectCode(send(old, owner), 'PERMISSION')
    const payload = await cas.put(randomBytes(64))
    await expectCode(send(payload, owner), 'PERMISSION')
    expect(await cas.has(old)).toBe(true)
    expect(await cas.has(payload)).toBe(true)
  })

  it('a forged, expired, far-future or malformed release is refused with a typed error', async () => {
    const owner = newOwner()
    const { replaced } = await replacedLog(owner)
    await expectCode(send(replaced, owner, r => { r.signature[0] ^= 1 }), 'PERMISSION')
    await expectCode(send(replaced, owner, r => { r.signature = r.signature.subarray(0, 10) }), 'PERMISSION')
    // Signed for another page, or another time: the signature covers both.
    await expectCode(send(replaced, owner, r => { r.notAfter += 1n }), 'PERMISSION')
    const other = await page(owner, 0, 1, 1)
    await expectCode(send(replaced, owner, r => { r.id = other.bytes }), 'PERMISSION')
    // The owner's key, another's signature.
    await expectCode(send(replaced, owner, r => { r.publicKey = keyPairFromSecret(randomBytes(32)).publicKey }), 'PERMISSION')
    await expectCode(send(replaced, owner, () => {}, Date.now() - 1), 'CONFLICT')
    await expectCode(send(replaced, owner, () => {}, Date.now() + RELEASE_MAX_AHEAD_MS + 60_000), 'INVALID_INPUT')
    await expectCode(send(replaced, owner, r => { r.publicKey = new Uint8Array(31) }), 'INVALID_INPUT')
    await expectCode(send(replaced, owner, r => { r.id = new Uint8Array([1, 2, 3]) }), 'INVALID_INPUT')
    expect(await cas.has(replaced)).toBe(true)
    expect(await cas.has(other)).toBe(true)
  })

  it('the owner cannot release a page still in the log: the head, a page it links to, an unpublished newer page', async () => {
    const owner = newOwner()
    const { head, inLog, replaced } = await replacedLog(owner)
    await expectCode(send(head, owner), 'CONFLICT')
    await expectCode(send(inLog, owner), 'CONFLICT')
    const pending = await page(owner, 5, 1, 3, head)
    await expectCode(send(pending, owner), 'CONFLICT')
    for (const id of [head, inLog, pending]) expect(await cas.has(id)).toBe(true)
    expect(await send(replaced, owner)).toBe(true)
  })

  it('on a service with a write token, Release needs it too', async () => {
    const guarded = await startRemoteLogService({ dir: await tempDir(), writeToken: 'secret-token' })
    try {
      const owner = newOwner()
      const withToken = twirpCas({ url: guarded.url, token: 'secret-token', retries: 0 })
      const id = await withToken.put(encodePage({ format: PAGE_FORMAT, firstSeq: 0, entries: [{ seq: 0, localHash: randomBytes(32), data: randomBytes(4) }], length: 1, revision: 1, scrubbed: [], logId: Buffer.from(logIdOfOwner(owner), 'hex') }))
      await expectCode(twirpCas({ url: guarded.url, retries: 0 }).release!(id, { owner }), 'PERMISSION')
      expect(await withToken.has(id)).toBe(true)
      // The service does not host this log's name: the signature and the log id decide.
      await withToken.release!(id, { owner })
      expect(await withToken.has(id)).toBe(false)
    } finally {
      await guarded.stop()
    }
  })
})

describe('a writer on the service leaves no replaced pages behind', () => {
  it('20 single publishes leave only the pages of the log (O(log n)), and a fresh reader reads all 20', async () => {
    // The service's own store, watched: every page the writer ever put is tried with has() at the end.
    const store = memoryCas()
    const pagesPut: CID[] = []
    const watched: ContentStore = Object.assign(Object.create(store) as ContentStore, {
      async put (...args: Parameters<ContentStore['put']>) {
        const id = await store.put(...args)
        try {
          if (decodePageHeader(args[0]).logId !== undefined) pagesPut.push(id)
        } catch {} // a payload
        return id
      }
    })
    const running = await startService({ cas: watched, ns: memoryNs() })
    try {
      const remote = { cas: twirpCas({ url: running.url, retries: 0 }), ns: twirpNs({ url: running.url }) }
      const owner = newOwner()
      const writer = await LogWriter.open({ ...remote, owner, storage: memoryWriterStorage(), log: { mode: 'pointer', pageEntries: 64 } })
      const sent: string[] = []
      for (let i = 0; i < 20; i++) {
        sent.push(`message ${i}`)
        await writer.append([sent[i]])
        await writer.publish()
      }
      expect(writer.logId).toBe(logIdOfOwner(owner))
      const unique = new Map(pagesPut.map(id => [id.toString(), id]))
      expect(unique.size).toBeGreaterThanOrEqual(20) // at least a new head per publish
      const pagesLeft: string[] = []
      for (const [key, id] of unique) if (await store.has(id)) pagesLeft.push(key)
      // What is left is exactly the chain from the head: with the binary-counter layout, popcount(20) = 2 pages.
      const chain: string[] = []
      for (let at: CID | undefined = writer.head; at !== undefined; at = decodePageHeader(await store.get(at)).tail) chain.push(at.toString())
      expect(chain.length).toBeLessThanOrEqual(5)
      expect(pagesLeft.sort()).toEqual(chain.sort())

      const reader = new LogReader({ cas: twirpCas({ url: running.url }), ns: twirpNs({ url: running.url }), name: writer.name })
      const sync = reader.sync({ length: 0 })
      const got: Message[] = []
      for await (const m of sync.messages) got.push(m)
      expect(got.map(m => new TextDecoder().decode(m.payload))).toEqual(sent)
    } finally {
      await running.close()
    }
  })
})
