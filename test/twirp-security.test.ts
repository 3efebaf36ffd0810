import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { create, toBinary } from '@bufbuild/protobuf'
import type { ContentStore } from '../core/content-store.js'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf } from '../core/ids.js'
import type { HeadRecord } from '../core/name-system.js'
import { keyPairFromSecret, nameOfPublicKey, signRecord, type Ed25519KeyPair } from '../core/signed-record.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { recordNs, type RecordNameSystem } from '../adapters/ns/record-ns.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { twirpNs } from '../adapters/ns/twirp.js'
import { twirpServiceClient } from '../adapters/twirp-client.js'
import { startService } from '../service/server.js'
import { NS } from '../proto/gen/vac/ns/ns_pb.js'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import { expectCode } from './conformance/cas.js'

function head (revision: number): HeadRecord {
  return { head: cidOf(randomBytes(16)), length: revision * 5, revision }
}

function owner (): { keys: Ed25519KeyPair, name: string, secret: Uint8Array } {
  const secret = randomBytes(32)
  const keys = keyPairFromSecret(secret)
  return { keys, name: nameOfPublicKey(keys.publicKey), secret }
}

function signed (name: string, record: HeadRecord, keys: Ed25519KeyPair): Uint8Array {
  return signRecord(name, record.revision, encodePointer(record), keys)
}

describe('the service rejects forged, foreign, replayed and rolled-back NS updates', async () => {
  const service = await startService({ cas: memoryCas(), ns: memoryNs() })
  afterAll(async () => { await service.close() })
  // The generated client without the reader-side checks of twirpNs: it sends whatever it is given.
  const raw = twirpServiceClient(NS, { url: service.url, retries: 0 })
  const reader = twirpNs({ url: service.url, retries: 0 })

  async function rejectedWith (update: Promise<unknown>): Promise<{ code: string, status?: number }> {
    const error = await update.then(() => undefined, (e: unknown) => e as { code: string, status: number })
    expect(error, 'the update was accepted').toBeDefined()
    return { code: error!.code, status: error!.status }
  }

  it('keeps the current record through every rejected update', async () => {
    const alice = owner()
    const mallory = owner()
    const first = head(1)
    const second = head(2)
    const firstRecord = signed(alice.name, first, alice.keys)
    const secondRecord = signed(alice.name, second, alice.keys)
    await raw.update({ name: alice.name, content: firstRecord })
    await raw.update({ name: alice.name, content: secondRecord })

    // Forged: a valid record of alice's with one signature bit flipped.
    const forgedBytes = Buffer.from(signed(alice.name, head(3), alice.keys))
    forgedBytes[forgedBytes.length - 1] ^= 0x01
    expect(await rejectedWith(raw.update({ name: alice.name, content: forgedBytes }))).toMatchObject({ code: 'permission_denied', status: 403 })

    // Foreign: mallory signs a record for alice's name with her own key.
    expect(await rejectedWith(raw.update({ name: alice.name, content: signed(alice.name, head(3), mallory.keys) }))).toMatchObject({ code: 'permission_denied' })

    // Foreign, disguised: alice's public key in the record, but mallory's signature.
    const disguised = toBinary(SignedRecordSchema, create(SignedRecordSchema, {
      value: encodePointer(head(3)), sequence: 3n, publicKey: alice.keys.publicKey,
      signature: signRecord(alice.name, 3, encodePointer(head(3)), mallory.keys).subarray(-64)
    }))
    expect(await rejectedWith(raw.update({ name: alice.name, content: disguised }))).toMatchObject({ code: 'permission_denied' })

    // Replayed: exactly the current record again.
    expect(await rejectedWith(raw.update({ name: alice.name, content: secondRecord }))).toMatchObject({ code: 'already_exists', status: 409 })

    // Rolled back: an older, genuinely signed record.
    expect(await rejectedWith(raw.update({ name: alice.name, content: firstRecord }))).toMatchObject({ code: 'failed_precondition', status: 412 })

    // Same sequence, other value: not newer, so refused.
    expect(await rejectedWith(raw.update({ name: alice.name, content: signed(alice.name, head(2), alice.keys) }))).toMatchObject({ code: 'failed_precondition' })

    // Undecodable record bytes.
    expect(await rejectedWith(raw.update({ name: alice.name, content: new Uint8Array([0xff, 0x01]) }))).toMatchObject({ code: 'malformed' })

    const resolved = await reader.resolve(alice.name)
    expect(resolved.head.toString()).toBe(second.head.toString())
    expect(resolved.revision).toBe(2)
  })

})

describe('racing updates of one name', () => {
  it('are serialized by the service: the newest accepted record stays', async () => {
    // A record store with jittery I/O, so that unserialized check-then-write sections would interleave.
    const records = new Map<string, Uint8Array>()
    const jitter = async (): Promise<void> => { await sleep(Math.random() * 4) }
    const ns = recordNs({
      backend: 'jittery',
      scheme: 'jittery',
      storage: {
        async read (name) { await jitter(); return records.get(name) },
        async write (name, record) { await jitter(); records.set(name, record) }
      }
    })
    const service = await startService({ cas: memoryCas(), ns })
    try {
      const raw = twirpServiceClient(NS, { url: service.url, retries: 0 })
      const alice = owner()
      const updates = Array.from({ length: 30 }, (_, i) => signed(alice.name, head(i + 1), alice.keys))
      const outcomes = await Promise.allSettled(updates.map(async content => await raw.update({ name: alice.name, content })))
      const accepted = outcomes.flatMap((o, i) => o.status === 'fulfilled' ? [i + 1] : [])
      for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { code: string }).code).toBe('failed_precondition')
      const { revision } = await twirpNs({ url: service.url }).resolve(alice.name)
      expect(revision).toBe(Math.max(...accepted))
    } finally {
      await service.close()
    }
  })
})

describe('the clients catch a malicious service', () => {
  it('rejects bytes that do not match the id asked for (INTEGRITY)', async () => {
    const honest = memoryCas()
    const lying: ContentStore = { ...honest, get: async () => new TextEncoder().encode('not what you asked for') }
    const service = await startService({ cas: lying, ns: memoryNs() })
    try {
      const cas = twirpCas({ url: service.url, retries: 0 })
      const id = await cas.put(new TextEncoder().encode('the real bytes'))
      await expectCode(cas.get(id), 'INTEGRITY')
    } finally {
      await service.close()
    }
  })

  it('rejects an Add answered with another id (INTEGRITY)', async () => {
    const honest = memoryCas()
    const lying: ContentStore = { ...honest, put: async () => await honest.put(new TextEncoder().encode('something else')) }
    const service = await startService({ cas: lying, ns: memoryNs() })
    try {
      await expectCode(twirpCas({ url: service.url, retries: 0 }).put(new TextEncoder().encode('mine')), 'INTEGRITY')
    } finally {
      await service.close()
    }
  })

  it('rejects an old record served after a newer one (rollback), and forged or foreign records', async () => {
    const honest = memoryNs()
    let serve: ((name: string) => Uint8Array) | undefined
    const lying: RecordNameSystem = { ...honest, readRecord: async (name, o) => serve?.(name) ?? await honest.readRecord(name, o) }
    const service = await startService({ cas: memoryCas(), ns: lying })
    try {
      const alice = owner()
      const ns = twirpNs({ url: service.url, retries: 0 })
      const first = head(1)
      const firstRecord = signed(alice.name, first, alice.keys)
      await ns.acceptRecord(alice.name, firstRecord)
      await ns.publish(alice.name, head(2), { label: 'alice', secret: alice.secret }, { previous: first.head })
      expect((await ns.resolve(alice.name)).revision).toBe(2)

      serve = () => firstRecord
      await expectCode(ns.resolve(alice.name), 'CONFLICT')

      const forged = Buffer.from(signed(alice.name, head(3), alice.keys))
      forged[forged.length - 1] ^= 0x01
      serve = () => forged
      await expectCode(ns.resolve(alice.name), 'INTEGRITY')

      const mallory = owner()
      serve = () => signed(alice.name, head(4), mallory.keys)
      await expectCode(ns.resolve(alice.name), 'PERMISSION')

      serve = () => new Uint8Array([1, 2, 3])
      await expectCode(ns.resolve(alice.name), 'MALFORMED')
    } finally {
      await service.close()
    }
  })
})
