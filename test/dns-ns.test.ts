import { randomBytes } from 'node:crypto'
import { promises as dnsPromises } from 'node:dns'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { nsConformance } from './conformance/ns.js'
import { expectCode } from './conformance/cas.js'
import { tempDir } from './support/temp-dir.js'
import { dnsNs, type DnsNsOptions } from '../adapters/ns/dns.js'
import { dnslinkName, parseDnsName } from '../adapters/ns/dns-name.js'
import { signMessage, verifyAnswer } from '../adapters/ns/dns-tsig.js'
import { headTxt, parseHeadTxt, RECORD_PREFIX } from '../adapters/ns/dns-txt.js'
import { exchange, parseServer, rcodeOf, updateMessage } from '../adapters/ns/dns-wire.js'
import { localCas } from '../adapters/cas/local.js'
import { openNs } from '../adapters/registry.js'
import { checkConfig } from '../config/config.js'
import { initConfig } from '../config/presets.js'
import { formatAddress, parseAddress } from '../core/address.js'
import { Endpoint } from '../core/endpoint.js'
import { encodePointer } from '../core/head-pointer.js'
import { cidOf } from '../core/ids.js'
import type { NameSystem, OwnerKey } from '../core/name-system.js'
import { keyPairFromSecret, nameOfPublicKey, signRecord } from '../core/signed-record.js'
import { findNamed, startDnsServer } from '../devnet/dns-server.js'
import type { DevnetSettings } from '../devnet/settings.js'

// A real BIND 9 for this file (`npm test` installs Debian's bind9 first: scripts/ensure-test-tools.mjs).
const named = await findNamed()
const server = named !== undefined ? await startDnsServer() : undefined
afterAll(async () => { await server?.stop() })

let labels = 0
const newOwner = (label: string): OwnerKey => ({ label: `${label}-${process.pid}-${labels++}`, secret: randomBytes(32) })
const writerOptions = (): DnsNsOptions => ({ server: server!.server, zone: server!.zone, tsig: server!.tsig, pollMs: 20 })

if (server === undefined) {
  it.skip('dns name system: BIND 9 `named` is not installed (run: node scripts/ensure-test-tools.mjs)', () => {})
} else {
  nsConformance('dns (BIND 9 named, RFC 2136 + TSIG)', {
    create: async () => dnsNs(writerOptions()),
    // The zone (and its journal) is on the server: a new client sees what the old one published.
    reopen: async (ns) => {
      await ns.close()
      return dnsNs(writerOptions())
    },
    newOwner,
    // Revisions are checked by our clients and readers (the server keeps any TXT a key holder sends:
    // test/dns-attacks.test.ts); two clients racing are decided by the server (the update's prerequisite).
    checksRevisions: true,
    atomicAcrossClients: true
  })

  describe('dns name system', () => {
    const open: NameSystem[] = []
    const client = (options: DnsNsOptions = writerOptions()): NameSystem => {
      const ns = dnsNs(options)
      open.push(ns)
      return ns
    }
    afterAll(async () => { await Promise.all(open.map(async ns => await ns.close())) })
    const record = (revision: number): { head: ReturnType<typeof cidOf>, length: number, revision: number } => ({ head: cidOf(randomBytes(16)), length: revision * 3, revision })
    const resolver = (): dnsPromises.Resolver => {
      const r = new dnsPromises.Resolver()
      r.setServers([server.server])
      return r
    }

    it('names a log by domain and key: dns:<label>.<zone>?key=<b…>, and refuses a bare domain (INVALID_INPUT)', async () => {
      const ns = client()
      const owner = newOwner('alice')
      const name = await ns.nameOf(owner)
      const key = nameOfPublicKey(keyPairFromSecret(owner.secret).publicKey)
      expect(name).toBe(`${owner.label}.${server.zone}?key=${key}`)
      const address = formatAddress({ scheme: ns.scheme, name })
      expect(parseAddress(address)).toEqual({ scheme: 'dns', name })
      expect(parseDnsName(name)).toEqual({ domain: `${owner.label}.${server.zone}`, key })
      await expectCode(ns.resolve(`${owner.label}.${server.zone}`), 'INVALID_INPUT')
      await expectCode(ns.resolve(`${owner.label}.${server.zone}?key=bnotakey`), 'INVALID_INPUT')
      // A fixed domain (no {label}) is one log's.
      expect(await client({ domain: 'logs.Example.ORG.' }).nameOf(owner)).toBe(`logs.example.org?key=${key}`)
    })

    it('publishes a standard DNSLink beside the signed record: any DNSLink client sees dnslink=/ipfs/<head>', async () => {
      const ns = client()
      const owner = newOwner('link')
      const name = await ns.nameOf(owner)
      const first = record(1)
      await ns.publish(name, first, owner)
      const txt = await resolver().resolveTxt(dnslinkName(parseDnsName(name).domain))
      expect(txt).toHaveLength(2)
      expect(txt.map(strings => strings.join('')).filter(t => t.startsWith('dnslink='))).toEqual([`dnslink=/ipfs/${first.head.toString()}`])
      const signed = txt.find(strings => strings.join('').startsWith(RECORD_PREFIX))!
      for (const s of signed) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(255)
    })

    it('reads a signed record split over several TXT strings (any split), as DNS servers serve long TXT', async () => {
      const owner = newOwner('split')
      const ns = client()
      const name = await ns.nameOf(owner)
      const { domain, key } = parseDnsName(name)
      const head = record(4)
      const signed = signRecord(key, 4, encodePointer(head), keyPairFromSecret(owner.secret))
      const text = RECORD_PREFIX + Buffer.from(signed).toString('base64')
      const strings = text.match(/.{1,40}/g)!.map(s => Buffer.from(s))
      expect(strings.length).toBeGreaterThan(3)
      const update = signMessage(updateMessage({ zone: server.zone, name: dnslinkName(domain), replace: [strings], ttl: 60 }), server.tsig)
      const answer = await exchange(parseServer(server.server), update.bytes, { timeoutMs: 5000 })
      verifyAnswer(answer, update.mac, server.tsig)
      expect(rcodeOf(answer)).toBe('NOERROR')
      expect(await client({ server: server.server }).resolve(name)).toMatchObject({ length: head.length, revision: 4 })
      // headTxt splits a long record into strings of at most 255 bytes; parseHeadTxt joins them back.
      const long = randomBytes(600)
      const [, split] = headTxt(head.head, long)
      expect(split.length).toBe(4)
      expect(Buffer.from(parseHeadTxt([split], 'here').records[0])).toEqual(long)
    })

    it('a reader needs only a server: no zone, no key; a writer without zone or tsig gets INVALID_CONFIG', async () => {
      const owner = newOwner('reader')
      const writer = client()
      const name = await writer.nameOf(owner)
      const first = record(1)
      await writer.publish(name, first, owner)
      const reader = client({ server: server.server })
      expect((await reader.resolve(name)).head.toString()).toBe(first.head.toString())
      await expectCode(reader.publish(name, record(2), owner, { previous: first.head }), 'INVALID_CONFIG')
      await expectCode(client({ server: server.server }).nameOf(owner), 'INVALID_CONFIG')
      // A domain outside the configured zone is refused before anything is sent.
      await expectCode(client({ ...writerOptions(), domain: '{label}.example.org' }).publish(`${owner.label}.example.org?key=${parseDnsName(name).key}`, record(1), owner), 'INVALID_CONFIG')
    })

    it('the server refuses a wrong TSIG secret or an unknown key (PERMISSION), and the value stays', async () => {
      const owner = newOwner('tsig')
      const writer = client()
      const name = await writer.nameOf(owner)
      const first = record(1)
      await writer.publish(name, first, owner)
      const wrongSecret = client({ ...writerOptions(), tsig: { ...server.tsig, secret: randomBytes(32).toString('base64') } })
      await expectCode(wrongSecret.publish(name, record(2), owner, { previous: first.head }), 'PERMISSION')
      const unknownKey = client({ ...writerOptions(), tsig: { ...server.tsig, name: 'nobody.' } })
      await expectCode(unknownKey.publish(name, record(2), owner, { previous: first.head }), 'PERMISSION')
      expect((await writer.resolve(name)).head.toString()).toBe(first.head.toString())
    })

    it('is UNAVAILABLE when no server answers', async () => {
      const closed = createServer()
      await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
      const port = (closed.address() as AddressInfo).port
      await new Promise<void>(resolve => closed.close(() => resolve()))
      const owner = newOwner('down')
      const down = client({ ...writerOptions(), server: `127.0.0.1:${port}`, timeoutMs: 1000 })
      const name = await down.nameOf(owner)
      await expectCode(down.publish(name, record(1), owner), 'UNAVAILABLE')
      const error = await down.resolve(name).catch((e: unknown) => e)
      expect(['UNAVAILABLE', 'TIMEOUT']).toContain((error as { code?: string }).code)
    })

    it('opens from a config through the registry; checkConfig accepts { driver: "dns" }', async () => {
      const config = { driver: 'dns', ...writerOptions() }
      expect(checkConfig({ cas: { driver: 'memory' }, ns: config }, 'config.json').ns).toEqual(config)
      expect(checkConfig({ cas: { driver: 'memory' }, ns: { driver: 'dns' } }, 'config.json').ns).toEqual({ driver: 'dns' })
      const ns = await openNs(config, { stateDir: await tempDir() })
      open.push(ns)
      expect(ns.scheme).toBe('dns')
      await expectCode(openNs({ driver: 'dns', tsig: { name: 'k.', algorithm: 'hmac-md5', secret: 'x' } }, { stateDir: '' }), 'INVALID_CONFIG')
    })

    it('init --ns dns takes the devnet\'s named: server, zone, TSIG key; the log is named after the state dir', () => {
      const devnet = { version: 1, dir: '/d', control: { url: 'http://c' }, service: { url: 'http://s' }, local: { blocks: '/b', names: '/n' }, ethereum: { ens: {} }, hypercore: { bootstrap: [] }, dns: { server: server.server, zone: server.zone, tsig: server.tsig, pid: server.pid } } as unknown as DevnetSettings
      const config = initConfig({ stateDir: '/home/me/Alice', store: '/store', devnet, ns: 'dns', cas: 'local' })
      expect(config.ns).toMatchObject({ driver: 'dns', server: server.server, zone: server.zone, tsig: server.tsig })
      expect(config.name).toBe('alice')
      expect(initConfig({ stateDir: '/home/me/bob', store: '/store', devnet, ns: 'local' }).resolvers?.dns).toMatchObject({ driver: 'dns', server: server.server })
      expect(() => initConfig({ stateDir: '/x', store: '/s', devnet: { ...devnet, dns: undefined }, ns: 'dns' })).toThrow(/runs no DNS server/)
      expect(() => initConfig({ stateDir: '/x', store: '/s', ns: 'dns' })).toThrow(/--profile devnet/)
    })

    it('an endpoint publishes in DNS; a reader follows the dns: address and syncs everything, the writer closed', async () => {
      const root = await tempDir('remotelog-dns-e2e-')
      const blocks = join(root, 'blocks')
      const alice = await Endpoint.open({ dir: join(root, 'alice'), cas: await localCas({ path: blocks }), ns: dnsNs(writerOptions()), name: `alice-${process.pid}-${labels++}`, log: { pageEntries: 4 } })
      const address = await alice.address()
      expect(address).toMatch(new RegExp(`^dns:alice-[0-9-]+\\.${server.zone.replace('.', '\\.')}\\?key=b[a-z2-7]{52}$`))
      for (let batch = 0; batch < 3; batch++) {
        await alice.append(Array.from({ length: 5 }, (_, i) => `m${batch * 5 + i}`))
        await alice.publish()
      }
      await alice.close()
      const bob = await Endpoint.open({ dir: join(root, 'bob'), cas: await localCas({ path: blocks }), ns: dnsNs({ server: server.server }) })
      try {
        await bob.follow(address, 'alice')
        expect(await bob.sync('alice')).toMatchObject({ delivered: 15, length: 15, nsRequests: 1 })
        const texts: string[] = []
        for await (const m of bob.read('alice')) texts.push(Buffer.from(m.payload!).toString())
        expect(texts).toEqual(Array.from({ length: 15 }, (_, i) => `m${i}`))
        expect(await bob.sync('alice')).toMatchObject({ delivered: 0, nsRequests: 1, casRequests: 0 })
      } finally {
        await bob.close()
      }
    })
  })
}

describe('dns wire format', () => {
  it('parses server addresses: host, host:port, [v6]:port; refuses junk (INVALID_CONFIG)', () => {
    expect(parseServer('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353 })
    expect(parseServer('ns1.example.org')).toEqual({ host: 'ns1.example.org', port: 53 })
    expect(parseServer('[::1]:5300')).toEqual({ host: '::1', port: 5300 })
    expect(parseServer('::1')).toEqual({ host: '::1', port: 53 })
    for (const bad of ['', '127.0.0.1:', '127.0.0.1:99999', 'a:b']) expect(() => parseServer(bad), bad).toThrow(/not a DNS server address/)
  })
})
