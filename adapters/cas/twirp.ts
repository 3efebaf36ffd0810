import type { CID } from 'multiformats/cid'
import type { ContentStore } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { checkSize, cidOf, toCid, verifyBytes } from '../../core/ids.js'
import { signReleaseAs } from '../../core/signed-release.js'
import { CAS } from '../../proto/gen/vac/cas/cas_pb.js'
import { callWithRetries, twirpServiceClient, type TwirpClientOptions } from '../twirp-client.js'

const backend = 'twirp'

export type TwirpCasOptions = TwirpClientOptions

/**
 * CAS client of a remote log service (`remotelog serve`, or any `vac.cas.CAS` Twirp server).
 * Trusts nothing it gets back: the id Add answers must be the one computed locally, the bytes Get
 * answers must hash to the id asked for (INTEGRITY otherwise). Calls are retried with backoff.
 * The service has no Has or Delete: `has` is a Get, and delete is not offered. `release(id, { owner })`
 * asks the service to delete a page a publish replaced, signed with the owner's key (Release in
 * proto/vac/cas/cas.proto); the service refuses (PERMISSION, CONFLICT) anything but a page of that
 * owner's log no longer in it, and a release without `owner` does nothing.
 * @example
 * const cas = twirpCas({ url: 'http://127.0.0.1:7878', token: process.env.REMOTELOG_TOKEN })
 * const id = await cas.put(new TextEncoder().encode('hi'))
 */
export function twirpCas (options: TwirpCasOptions): ContentStore {
  const client = twirpServiceClient(CAS, options)

  async function get (id: CID, signal?: AbortSignal): Promise<Uint8Array> {
    const { data } = await callWithRetries(options, backend, signal, async (s) => await client.get({ id: id.bytes }, { signal: s }))
    return verifyBytes(id, data, backend)
  }

  return {
    backend,
    capabilities: { delete: false },

    async put (bytes, callOptions) {
      checkSize(bytes, backend)
      const expected = cidOf(bytes)
      const { id } = await callWithRetries(options, backend, callOptions?.signal, async (s) => await client.add({ data: bytes }, { signal: s }))
      let answered: CID
      try {
        answered = toCid(id)
      } catch (cause) {
        throw fail('INTEGRITY', `server answered an id that is not a remotelog id for ${expected.toString()}`, { backend, cause })
      }
      if (answered.toString() !== expected.toString()) {
        throw fail('INTEGRITY', `server answered id ${answered.toString()} for bytes whose id is ${expected.toString()}`, { backend })
      }
      return expected
    },

    async get (id, callOptions) {
      return await get(id, callOptions?.signal)
    },

    async has (id, callOptions) {
      try {
        await get(id, callOptions?.signal)
        return true
      } catch (e) {
        if (isRemoteLogError(e, 'NOT_FOUND')) return false
        throw e
      }
    },

    async release (id, callOptions) {
      if (callOptions?.owner === undefined) return
      const signed = signReleaseAs(id, callOptions.owner.secret)
      const request = { id: id.bytes, notAfter: BigInt(signed.notAfter), publicKey: signed.publicKey, signature: signed.signature }
      // Idempotent on the service (a page already gone is answered `released: false`): safe to retry.
      await callWithRetries(options, backend, callOptions.signal, async (s) => await client.release(request, { signal: s }))
    },

    async close () {}
  }
}
