import type { ServiceImpl } from '@connectrpc/connect'
import { fail, isRemoteLogError } from '../core/errors.js'
import { publicKeyOfName } from '../core/signed-record.js'
import type { RecordNameSystem } from '../adapters/ns/record-ns.js'
import type { NS } from '../proto/gen/vac/ns/ns_pb.js'
import { KeyedLock } from './keyed-lock.js'
import { TwirpError } from './twirp-wire.js'

/**
 * `vac.ns.NS` served from a name system of signed records. Update stores `content` only if it is
 * a record signed by the name's key whose sequence is above the stored one; updates of one name are
 * serialized, so two racing writers can never store an older record over a newer one.
 * Rejections: another key or a forged signature → PERMISSION; a sequence not above the stored
 * one → CONFLICT; exactly the stored record again → Twirp `already_exists`.
 * @example createServiceImplSpec(NS, nsService(localNs({ path })))
 */
export function nsService (ns: RecordNameSystem): ServiceImpl<typeof NS> {
  const locks = new KeyedLock()

  async function stored (name: string, signal: AbortSignal): Promise<Uint8Array | undefined> {
    try {
      return await ns.readRecord(name, { signal })
    } catch (e) {
      if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
      throw e
    }
  }

  return {
    async update (request, context) {
      publicKeyOfName(request.name)
      await locks.run(request.name, async () => {
        const current = await stored(request.name, context.signal)
        if (current !== undefined && Buffer.from(current).equals(request.content)) {
          throw new TwirpError('already_exists', `this record is already the current one for ${request.name}`)
        }
        try {
          await ns.acceptRecord(request.name, request.content, { signal: context.signal })
        } catch (e) {
          if (isRemoteLogError(e, 'INTEGRITY')) throw fail('PERMISSION', `record for ${request.name} has a forged signature`, { cause: e })
          throw e
        }
      })
      return {}
    },

    async fetch (request, context) {
      publicKeyOfName(request.name)
      return { data: await ns.readRecord(request.name, { signal: context.signal }) }
    }
  }
}
