import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { afterAll, describe, expect, it } from 'vitest'
import { expectCode } from './conformance/cas.js'
import { tempDir } from './support/temp-dir.js'
import { dnsNs, type DnsNsOptions } from '../adapters/ns/dns.js'
import { dnslinkName, parseDnsName } from '../adapters/ns/dns-name.js'
import { signMessage, verifyAnswer } from '../adapters/ns/dns-tsig.js'
import { headTxt, parseHeadTxt } from '../adapters/ns/dns-txt.js'
import { exchange, parseServer, rcodeOf, txtAnswer, txtQuery, updateMessage, type TxtStrings } from '../adapters/ns/dns-wire.js'
import { localCas } from '../adapters/cas/local.js'
import { Endpoint } from '../core/endpoint.js'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf, toCid } from '../core/ids.js'
import type { HeadRecord, NameSystem, OwnerKey } from '../core/name-system.js'
import { keyPairFromSecret, signRecord } from '../core/signed-record.js'
import { findNamed, startDnsServer } from '../devnet/dns-server.js'
import { dnsAdversary } from '../compare/adversary-dns.js'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'

// DNS does not authenticate what it serves, and whoever holds the zone's TSIG key can write any TXT
// record. These attacks go straight to BIND with raw RFC 2136 updates signed with that key (not
// through our client, which would refuse them): the server takes them; our readers must not.
const server = await findNamed() !== undefined ? await startDnsServer() : undefined
afterAll(async () => { await server?.stop() })

let labels = 0
const newOwner = (label: string): OwnerKey => ({ label: `${label}-${process.pid}-${labels++}`, secret: randomBytes(32) })

/** What the zone holds at a log's `_dnslink` name, read straight from the server. */
async function zoneTxt (name: string): Promise<TxtStrings[] | undefined> {
  const owner = dnslinkName(parseDnsName(name).domain)
  return txtAnswer(await exchange(parseServer(server!.server), txtQuery(owner), { timeoutMs: 5000 }), owner)
}

/** An RRset as a sorted list of texts (RRsets have no order). */
const texts = (txt: TxtStrings[] | undefined): string[] | undefined => txt?.map(strings => strings.map(s => s.toString('latin1')).join('|')).sort()

/** A raw RFC 2136 update with the zone's TSIG key: replaces the RRset; returns the server's answer code. */
async function rawUpdate (name: string, replace: TxtStrings[], expect?: TxtStrings[] | 'absent'): Promise<string> {
  const update = signMessage(updateMessage({ zone: server!.zone, name: dnslinkName(parseDnsName(name).domain), replace, expect, ttl: 60 }), server!.tsig)
  const answer = await exchange(parseServer(server!.server), update.bytes, { timeoutMs: 5000 })
  verifyAnswer(answer, update.mac, server!.tsig)
  return rcodeOf(answer)
}

const record = (revision: number): HeadRecord => ({ head: cidOf(randomBytes(16)), length: revision * 10, revision })

describe.skipIf(server === undefined)('dns: records put into the zone by a holder of the TSIG key, bypassing our client', () => {
  const open: NameSystem[] = []
  const client = (options: DnsNsOptions = { server: server!.server, zone: server!.zone, tsig: server!.tsig }): NameSystem => {
    const ns = dnsNs(options)
    open.push(ns)
    return ns
  }
  afterAll(async () => { await Promise.all(open.map(async ns => await ns.close())) })

  it('a forged TXT record in the right format is kept by the server but refused by readers: another key (PERMISSION), a forged signature (INTEGRITY), a dnslink that is not the signed head (INTEGRITY)', async () => {
    const owner = newOwner('alice')
    const writer = client()
    const name = await writer.nameOf(owner)
    const { key } = parseDnsName(name)
    const first = record(1)
    await writer.publish(name, first, owner)
    const reader = client({ server: server!.server })
    expect((await reader.resolve(name)).revision).toBe(1)

    // 1. Mallory signs a newer head with her own key, for alice's name.
    const forged = record(7)
    const mallory = keyPairFromSecret(randomBytes(32))
    expect(await rawUpdate(name, headTxt(forged.head, signRecord(key, 7, encodePointer(forged), mallory)))).toBe('NOERROR')
    expect(parseHeadTxt((await zoneTxt(name))!, 'zone').dnslinks).toEqual([`/ipfs/${forged.head.toString()}`]) // the server took it
    await expectCode(reader.resolve(name), 'PERMISSION')
    await expectCode(client({ server: server!.server }).resolve(name), 'PERMISSION') // a fresh reader too

    // 2. Mallory copies alice's public key into the record, but cannot sign as her.
    const withAlicesKey = toBinary(SignedRecordSchema, create(SignedRecordSchema, {
      ...fromBinary(SignedRecordSchema, signRecord(key, 7, encodePointer(forged), mallory)),
      publicKey: keyPairFromSecret(owner.secret).publicKey
    }))
    expect(await rawUpdate(name, headTxt(forged.head, withAlicesKey))).toBe('NOERROR')
    await expectCode(reader.resolve(name), 'INTEGRITY')

    // 3. Alice's genuine record, with the plain DNSLink pointed elsewhere (what a DNSLink-only client follows).
    const genuine = signRecord(key, 1, encodePointer(first), keyPairFromSecret(owner.secret))
    const [, signedTxt] = headTxt(first.head, genuine)
    expect(await rawUpdate(name, [[Buffer.from(`dnslink=/ipfs/${forged.head.toString()}`)], signedTxt])).toBe('NOERROR')
    await expectCode(reader.resolve(name), 'INTEGRITY')

    // 4. Two signed records at once: which one would be meant? Refused, not guessed.
    const second = record(2)
    const [, otherTxt] = headTxt(second.head, signRecord(key, 2, encodePointer(second), keyPairFromSecret(owner.secret)))
    expect(await rawUpdate(name, [signedTxt, otherTxt])).toBe('NOERROR')
    await expectCode(reader.resolve(name), 'MALFORMED')

    // None of it was ever returned as a head; the owner's next publish replaces it and readers follow.
    await writer.publish(name, second, owner, { previous: first.head })
    expect(await reader.resolve(name)).toMatchObject({ revision: 2, length: 20 })
    expect((await reader.resolve(name)).head.toString()).toBe(second.head.toString())
  })

  it('a forged record does not let anyone claim a fresh domain, and an owner\'s first publish does not overwrite another key\'s log (PERMISSION)', async () => {
    const alice = newOwner('fixed')
    const bob = newOwner('fixed')
    // Both configured with the same fixed domain: the second log must not replace the first.
    const domain = `shared-${process.pid}-${labels++}.${server!.zone}`
    const ns = client({ server: server!.server, zone: server!.zone, tsig: server!.tsig, domain })
    const aliceName = await ns.nameOf(alice)
    await ns.publish(aliceName, record(1), alice)
    await expectCode(ns.publish(await ns.nameOf(bob), record(1), bob), 'PERMISSION')
    expect((await ns.resolve(aliceName)).revision).toBe(1)
  })

  it('an older signed record put back into the zone: a reader that saw newer refuses it (CONFLICT) and never goes back; the owner\'s next publish heals the zone', async () => {
    const owner = newOwner('bob')
    const writer = client()
    const name = await writer.nameOf(owner)
    const first = record(1)
    await writer.publish(name, first, owner)
    const old = (await zoneTxt(name))!
    const second = record(2)
    await writer.publish(name, second, owner, { previous: first.head })
    const reader = client({ server: server!.server })
    expect((await reader.resolve(name)).revision).toBe(2)

    // Eve, holding the TSIG key, replays the exact records of revision 1 (a genuine signature).
    expect(await rawUpdate(name, old)).toBe('NOERROR')
    expect(texts(await zoneTxt(name))).toEqual(texts(old))
    for (let i = 0; i < 3; i++) await expectCode(reader.resolve(name), 'CONFLICT')
    // The owner's next publish continues its own chain (previous = revision 2's head) and replaces
    // the put-back record: an older record of its own key is no reason to stop.
    const third = record(3)
    await writer.publish(name, third, owner, { previous: second.head })
    expect(await reader.resolve(name)).toMatchObject({ revision: 3 })
  })

  it('a reader endpoint that synced revision 2 refuses the put-back revision 1 after a restart (its cursor remembers), keeps every message, and resumes when the owner publishes again', async () => {
    const root = await tempDir('remotelog-dns-rollback-')
    const blocks = join(root, 'blocks')
    const label = `carol-${process.pid}-${labels++}`
    const openWriter = async (): Promise<Endpoint> => await Endpoint.open({ dir: join(root, 'carol'), cas: await localCas({ path: blocks }), ns: dnsNs({ server: server!.server, zone: server!.zone, tsig: server!.tsig }), name: label })
    const openReader = async (): Promise<Endpoint> => await Endpoint.open({ dir: join(root, 'dave'), cas: await localCas({ path: blocks }), ns: dnsNs({ server: server!.server }) })
    let carol = await openWriter()
    const address = await carol.address()
    const name = address.slice('dns:'.length)
    await carol.append(['one', 'two'])
    await carol.publish()
    const old = (await zoneTxt(name))!
    const oldHead = parseHeadTxt(old, 'zone').dnslinks[0].slice('/ipfs/'.length)
    const oldPage = await carol.cas.get(toCid(oldHead))
    await carol.append(['three'])
    await carol.publish()
    await carol.close()

    let dave = await openReader()
    await dave.follow(address, 'carol')
    expect(await dave.sync('carol')).toMatchObject({ delivered: 3, length: 3 })
    await dave.close()

    // Eve puts revision 1 back (and its head page, should the writer have released it).
    expect(await rawUpdate(name, old)).toBe('NOERROR')
    await (await localCas({ path: blocks })).put(oldPage)
    dave = await openReader() // a new process: its name system has seen nothing yet; its cursor has
    await expectCode(dave.sync('carol'), 'CONFLICT')
    const messages = async (): Promise<string[]> => {
      const out: string[] = []
      for await (const m of dave.read('carol')) out.push(Buffer.from(m.payload!).toString())
      return out
    }
    expect(await messages()).toEqual(['one', 'two', 'three'])

    carol = await openWriter()
    await carol.append(['four'])
    await carol.publish()
    await carol.close()
    expect(await dave.sync('carol')).toMatchObject({ delivered: 1, length: 4 })
    expect(await messages()).toEqual(['one', 'two', 'three', 'four'])
    await dave.close()
  })

  it('compare\'s raw adversary (compare/adversary-dns.ts): the server accepts its forged and replayed records, readers refuse them, restore puts the zone back', async () => {
    const owner = newOwner('eve')
    const writer = client()
    const name = await writer.nameOf(owner)
    const first = record(1)
    await writer.publish(name, first, owner)
    const eve = dnsAdversary({ server: server!.server, zone: server!.zone, tsig: server!.tsig, name })
    await eve.remember()
    const second = record(2)
    await writer.publish(name, second, owner, { previous: first.head })
    const reader = client({ server: server!.server })
    expect((await reader.resolve(name)).revision).toBe(2)
    expect(await eve.head()).toBe(second.head.toString())

    const forged = record(3)
    expect(await eve.foreignWrite(forged)).toMatchObject({ accepted: true })
    expect(await eve.head()).toBe(forged.head.toString())
    await expectCode(reader.resolve(name), 'PERMISSION')
    await eve.restore(owner)
    expect(await eve.head()).toBe(second.head.toString())

    expect(await eve.rollback(first, owner)).toMatchObject({ accepted: true })
    expect(await eve.head()).toBe(first.head.toString())
    await expectCode(reader.resolve(name), 'CONFLICT')
    await eve.restore(owner)
    expect((await reader.resolve(name)).head.toString()).toBe(second.head.toString())
    await eve.close()
  })

  it('the server itself is a compare-and-swap: an update whose prerequisite no longer holds is refused (NXRRSET), and nothing changes', async () => {
    const owner = newOwner('cas')
    const writer = client()
    const name = await writer.nameOf(owner)
    const first = record(1)
    await writer.publish(name, first, owner)
    const seen = (await zoneTxt(name))!
    await writer.publish(name, record(2), owner, { previous: first.head })
    const now = await zoneTxt(name)
    expect(await rawUpdate(name, [[Buffer.from('dnslink=/ipfs/x')]], seen)).toBe('NXRRSET')
    expect(await rawUpdate(name, [[Buffer.from('dnslink=/ipfs/x')]], 'absent')).toBe('YXRRSET')
    expect(texts(await zoneTxt(name))).toEqual(texts(now))
  })
})
