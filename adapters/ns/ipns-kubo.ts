// The `ipns` name system through an IPFS node's Kubo RPC API: the node holds the log's key (imported
// with `key/import`), signs and publishes with `name/publish`, and resolves with `name/resolve`.
import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError, type RemoteLogError } from '../../core/errors.js'
import { KeyedLock } from '../../core/keyed-lock.js'
import type { HeadRecord, OwnerKey, PublishOptions, PublishReceipt, ResolvedHead } from '../../core/name-system.js'
import type { IpnsNameSystem, IpnsNsOptions } from './ipns.js'
import {
  BACKEND, checkRecord, DEFAULT_LIFETIME_MS, DEFAULT_TTL_MS, headOfValue, ipnsKeyOf, ipnsNameOfKey, keyProtobuf, parseIpnsName,
  valueOfHead, type IpnsName
} from './ipns-record.js'

export interface IpnsKuboOptions extends Omit<IpnsNsOptions, 'kubo' | 'routers' | 'peers'> {
  /** The node's RPC API, e.g. `http://127.0.0.1:5001` (`/api/v0` is added when no path is given). */
  url: string
}

/** Extra time the client waits beyond the node's own `timeout`, so the node can answer it first. */
const CLIENT_GRACE_MS = 1000

/**
 * A key in the form js-ipfs's `key/import` takes (`pem` + `password`): libp2p's "exporter" format,
 * the key's protobuf under AES-128-GCM with a PBKDF2-SHA256 key (32767 rounds), salt ‖ nonce ‖
 * ciphertext ‖ tag, base64 multibase. The password only protects the key on its way to the node.
 */
function exportForJsIpfs (key: Ed25519PrivateKey, password: string): string {
  const salt = randomBytes(16)
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-128-gcm', pbkdf2Sync(password, salt, 32767, 16, 'sha256'), nonce)
  const sealed = Buffer.concat([salt, nonce, cipher.update(keyProtobuf(key)), cipher.final(), cipher.getAuthTag()])
  return `m${sealed.toString('base64').replace(/=+$/, '')}`
}

function statusOf (e: unknown): number | undefined {
  return (e as { response?: { status?: number } })?.response?.status
}

/**
 * IPNS through an IPFS node's RPC API (Kubo, or js-ipfs, which serves the same API): the log's
 * ed25519 key is imported into the node under `remotelog-<k51 name>` (`key/import`: Kubo's
 * `libp2p-protobuf-cleartext` file, else js-ipfs's password-sealed `pem`), `name/publish` signs
 * `/ipfs/<head>` with it (asking Kubo ≥ 0.37 for sequence = revision) and the node's routing
 * carries it; `name/resolve` reads it back. The node picks the record's sequence where it cannot be
 * told (js-ipfs), so this NS does not hold revisions (`records: false`): readers take length and
 * revision from the head page, as on ENS, and refuse a rollback there. It does check the record it
 * resolves when the node hands it out (`routing/get`, js-ipfs `dht/get`): signature, and a sequence
 * never below one seen. Publish is compare-then-publish: CONFLICT when the name is not at `previous`.
 * @example
 * const ns = ipnsKuboNs({ url: 'http://127.0.0.1:5001' })
 * await ns.publish(await ns.nameOf(owner), { head, length: 3, revision: 1 }, owner)
 */
export function ipnsKuboNs (options: IpnsKuboOptions): IpnsNameSystem {
  const o = (options ?? {}) as unknown as Record<string, unknown>
  let url: URL
  try {
    url = new URL(String(o.url))
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
  } catch (cause) {
    throw fail('INVALID_CONFIG', `ipns kubo must be the http(s) URL of a Kubo RPC API, e.g. http://127.0.0.1:5001 (got ${String(o.url)})`, { backend: BACKEND, cause })
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/v0'
  const api = url.toString().replace(/\/$/, '')
  const headers = (o.headers ?? {}) as Record<string, string>
  const number = (key: string, fallback: number): number => {
    const value = o[key] ?? fallback
    if (typeof value !== 'number' || !(value > 0)) throw fail('INVALID_CONFIG', `ipns ${key} must be a positive number of milliseconds`, { backend: BACKEND })
    return value
  }
  const timeoutMs = number('timeoutMs', 10_000)
  const lifetimeMs = number('lifetimeMs', DEFAULT_LIFETIME_MS)
  const ttlMs = number('ttlMs', DEFAULT_TTL_MS)
  const pollMs = number('pollMs', 500)
  const client: KuboRPCClient = create({ url: api, headers })
  const highestSeen = new Map<string, number>()
  const imported = new Map<string, Promise<string>>()
  const locks = new KeyedLock()
  /** js-ipfs offline refuses `nocache`; learnt on the first resolve. */
  let nocache = true
  /** Kubo has `routing/get`; js-ipfs answers 404 and has `dht/get`. */
  let getCommand: 'routing/get' | 'dht/get' = 'routing/get'

  const call = (callOptions?: CallOptions): { timeout: number, signal: AbortSignal } => {
    const bound = AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS)
    return { timeout: timeoutMs, signal: callOptions?.signal === undefined ? bound : AbortSignal.any([callOptions.signal, bound]) }
  }

  const wrap = (e: unknown, what: string, callOptions?: CallOptions): RemoteLogError => {
    if (isRemoteLogError(e)) return e
    if (callOptions?.signal?.aborted === true) return fail('ABORTED', what, { backend: BACKEND, cause: e })
    const name = (e as { name?: string })?.name
    if (name === 'TimeoutError' || (e as { cause?: { name?: string } })?.cause?.name === 'TimeoutError') {
      return fail('TIMEOUT', `${what}: no answer from ${api} within ${timeoutMs} ms`, { backend: BACKEND, cause: e })
    }
    const status = statusOf(e)
    if (status === undefined) return fail('UNAVAILABLE', `${what}: cannot reach the IPFS RPC API at ${api}`, { backend: BACKEND, cause: e })
    return fail('UNAVAILABLE', `${what}: ${api} answered HTTP ${status}: ${(e as Error).message}`, { backend: BACKEND, cause: e })
  }

  /** The node's name for the log's key, importing the key first if the node does not hold it. */
  async function keyName (key: Ed25519PrivateKey, name: IpnsName, callOptions?: CallOptions): Promise<string> {
    let known = imported.get(name.name)
    if (known === undefined) {
      known = (async () => {
        const wanted = `remotelog-${name.name}`
        const held = async (): Promise<string | undefined> => (await client.key.list(call(callOptions)))
          .find(k => { try { return parseIpnsName(k.id).name === name.name } catch { return false } })?.name
        const existing = await held()
        if (existing !== undefined) return existing
        // Kubo: the key's protobuf as a file.
        const body = new FormData()
        body.append('file', new Blob([keyProtobuf(key)]))
        const response = await fetch(`${api}/key/import?arg=${encodeURIComponent(wanted)}&format=libp2p-protobuf-cleartext`, { method: 'POST', body, headers, signal: call(callOptions).signal })
        const answer = await response.text()
        if (response.ok) return wanted
        if (response.status !== 415 && response.status !== 400) throw fail('UNAVAILABLE', `key/import on ${api} answered HTTP ${response.status}: ${answer.slice(0, 200)}`, { backend: BACKEND })
        // js-ipfs: the key sealed with a one-time password (its keychain re-seals it with its own).
        const password = randomBytes(18).toString('base64url')
        try {
          await client.key.import(wanted, exportForJsIpfs(key, password), password, call(callOptions))
        } catch (e) {
          // Another client of this node imported it meanwhile.
          const now = await held()
          if (now !== undefined) return now
          throw e
        }
        return wanted
      })()
      imported.set(name.name, known)
      known.catch(() => imported.delete(name.name))
    }
    return await known
  }

  /** The signed record the node hands out for a name (`routing/get`, js-ipfs `dht/get`), if it does. */
  async function fetchRecord (name: IpnsName, callOptions?: CallOptions): Promise<Uint8Array | undefined> {
    for (;;) {
      const response = await fetch(`${api}/${getCommand}?arg=/ipns/${name.peerId.toString()}`, { method: 'POST', headers, signal: call(callOptions).signal })
      const text = await response.text()
      if (response.status === 404 && getCommand === 'routing/get') { getCommand = 'dht/get'; continue }
      if (!response.ok) return undefined
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue
        const event = JSON.parse(line) as { Type?: number, Extra?: string }
        if (event.Type === 5 && typeof event.Extra === 'string') return new Uint8Array(Buffer.from(event.Extra, 'base64'))
      }
      return undefined
    }
  }

  /** What `name/resolve` says now, with the record checked when the node hands it out. */
  async function current (name: IpnsName, callOptions?: CallOptions): Promise<{ head: ResolvedHead['head'], sequence?: number, bytes?: Uint8Array } | undefined> {
    if (callOptions?.signal?.aborted === true) throw fail('ABORTED', `resolve ipns:${name.name}`, { backend: BACKEND, cause: callOptions.signal.reason })
    const what = `name/resolve ipns:${name.name}`
    let path: string | undefined
    for (;;) {
      try {
        for await (const p of client.name.resolve(`/ipns/${name.peerId.toString()}`, { ...call(callOptions), recursive: false, ...(nocache ? { nocache: true } : {}) })) path = p
        break
      } catch (e) {
        const message = (e as Error).message ?? ''
        if (nocache && /offline and nocache/.test(message)) { nocache = false; continue }
        if (statusOf(e) !== undefined && statusOf(e) !== 404 && /not found|could not resolve|no record/i.test(message)) return undefined
        throw wrap(e, what, callOptions)
      }
    }
    if (path === undefined) return undefined
    const head = headOfValue(path, `ipns:${name.name}`)
    const bytes = await fetchRecord(name, callOptions).catch(() => undefined)
    if (bytes === undefined) return { head }
    const checked = await checkRecord(name, bytes)
    // The node resolved one record and handed out another (it moved in between): the resolve wins.
    return checked.head.equals(head) ? { head, sequence: checked.sequence, bytes } : { head }
  }

  async function resolveChecked (text: string, callOptions?: CallOptions): Promise<NonNullable<Awaited<ReturnType<typeof current>>>> {
    const name = parseIpnsName(text)
    const found = await current(name, callOptions)
    if (found === undefined) throw fail('NOT_FOUND', `no IPNS record for ipns:${name.name} on ${api}`, { backend: BACKEND })
    if (found.sequence !== undefined) {
      const seen = highestSeen.get(name.name)
      if (seen !== undefined && found.sequence < seen) throw fail('CONFLICT', `ipns:${name.name} rolled back from sequence ${seen} to ${found.sequence}`, { backend: BACKEND })
      highestSeen.set(name.name, found.sequence)
    }
    return found
  }

  async function resolve (text: string, callOptions?: CallOptions): Promise<ResolvedHead> {
    return { head: (await resolveChecked(text, callOptions)).head }
  }

  return {
    backend: BACKEND,
    scheme: 'ipns',
    capabilities: { watch: true, records: false },
    resolve,

    async readRecord (text, callOptions) {
      const found = await resolveChecked(text, callOptions)
      if (found.bytes === undefined) throw fail('UNAVAILABLE', `${api} resolves ipns:${text} but does not hand out its record`, { backend: BACKEND })
      return found.bytes
    },

    async nameOf (owner: OwnerKey): Promise<string> {
      return ipnsNameOfKey(await ipnsKeyOf(owner.secret)).name
    },

    async publish (text: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions = {}): Promise<PublishReceipt> {
      const name = parseIpnsName(text)
      const key = await ipnsKeyOf(owner.secret)
      if (ipnsNameOfKey(key).name !== name.name) throw fail('PERMISSION', `ipns:${name.name} belongs to another key`, { backend: BACKEND })
      return await locks.run(name.name, async () => {
        const existing = await current(name, publishOptions)
        const previous = publishOptions.previous
        if (existing !== undefined && (previous === undefined || !existing.head.equals(previous))) {
          const expected = previous === undefined ? '(none: a first publish)' : String(previous)
          throw fail('CONFLICT', `ipns:${name.name} points at ${existing.head.toString()}, not at this writer's last head ${expected}`, { backend: BACKEND })
        }
        const keyOnNode = await keyName(key, name, publishOptions).catch((e: unknown) => { throw wrap(e, `key/import for ipns:${name.name}`, publishOptions) })
        try {
          const published = await client.name.publish(valueOfHead(record.head), {
            ...call(publishOptions),
            key: keyOnNode,
            resolve: false,
            lifetime: `${Math.round(lifetimeMs)}ms`,
            ttl: `${Math.round(ttlMs)}ms`,
            // Kubo ≥ 0.37 signs this sequence (the log's revision); js-ipfs drops what it does not know.
            sequence: record.revision,
            'allow-offline': true
          } as never)
          return { name: published.name, value: published.value }
        } catch (e) {
          throw wrap(e, `name/publish ipns:${name.name}`, publishOptions)
        }
      })
    },

    async * watch (text: string, watchOptions: CallOptions): AsyncIterable<ResolvedHead> {
      let last: string | undefined
      const signal = watchOptions.signal
      const stopped = (): boolean => signal?.aborted === true
      while (!stopped()) {
        try {
          const head = await resolve(text, watchOptions)
          if (head.head.toString() !== last) {
            last = head.head.toString()
            yield head
          }
        } catch (e) {
          if (stopped()) return
          if (!isRemoteLogError(e, 'NOT_FOUND')) throw e
        }
        await sleep(pollMs, undefined, { signal }).catch(() => {})
      }
    },

    async close () {}
  }
}
