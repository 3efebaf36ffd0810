import type { ServiceImpl } from '@connectrpc/connect'
import type { ContentStore } from '../core/content-store.js'
import { checkSize, toCid } from '../core/ids.js'
import type { CAS } from '../proto/gen/vac/cas/cas_pb.js'

/**
 * `vac.cas.CAS` served from any ContentStore: Add stores and answers the binary CID, Get returns
 * the bytes (the store verifies them against the id).
 * @example createServiceImplSpec(CAS, casService(await localCas({ path })))
 */
export function casService (cas: ContentStore): ServiceImpl<typeof CAS> {
  return {
    async add (request, context) {
      checkSize(request.data)
      const id = await cas.put(request.data, { signal: context.signal })
      return { id: id.bytes }
    },
    async get (request, context) {
      const id = toCid(request.id)
      return { data: await cas.get(id, { signal: context.signal }) }
    }
  }
}
