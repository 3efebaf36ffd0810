import { isRemoteLogError } from '../../core/errors.js'
import { NS } from '../../proto/gen/vac/ns/ns_pb.js'
import { callWithRetries, twirpServiceClient, type TwirpClientOptions } from '../twirp-client.js'
import { recordNs, type RecordNameSystem } from './record-ns.js'

const backend = 'twirp'

export interface TwirpNsOptions extends TwirpClientOptions {
  /** How often `watch` polls the service. Default 100 ms. */
  pollMs?: number
}

/**
 * NS client of a remote log service (`vac.ns.NS` over Twirp). Records are signed here and checked
 * again here on every resolve (signature, the name's key, no rollback), exactly as the local NS
 * does: a service that forges or serves an old record is caught. Addresses are `twirp:<name>`.
 * An Update the service already holds (`already_exists`, e.g. a retry whose first attempt landed)
 * counts as done.
 * @example
 * const ns = twirpNs({ url: 'http://127.0.0.1:7878' })
 * const { head } = await ns.resolve(name)
 */
export function twirpNs (options: TwirpNsOptions): RecordNameSystem {
  const client = twirpServiceClient(NS, options)
  return recordNs({
    backend,
    scheme: 'twirp',
    pollMs: options.pollMs,
    storage: {
      async read (name, callOptions) {
        try {
          const { data } = await callWithRetries(options, backend, callOptions?.signal, async (s) => await client.fetch({ name }, { signal: s }))
          return data
        } catch (e) {
          if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
          throw e
        }
      },
      async write (name, record, callOptions) {
        try {
          await callWithRetries(options, backend, callOptions?.signal, async (s) => await client.update({ name, content: record }, { signal: s }))
        } catch (e) {
          if (isRemoteLogError(e) && e.details?.twirpCode === 'already_exists') return
          throw e
        }
      }
    }
  })
}
