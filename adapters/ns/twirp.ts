import { isRemoteLogError } from '../../core/errors.js'
import { NS } from '../../proto/gen/vac/ns/ns_pb.js'
import { callWithRetries, twirpServiceClient, type TwirpClientOptions } from '../twirp-client.js'
import { recordNs, type RecordNameSystem } from './record-ns.js'

const backend = 'twirp'

export interface TwirpNsOptions extends TwirpClientOptions {
  /**
   * How long `watch` asks the service to hold each Fetch until the record changes (a long-poll;
   * the service caps it, 25 s by default). 0: no long-poll, poll every `pollMs`. Default 25 000.
   */
  longPollMs?: number
  /**
   * How often `watch` polls where the service does not hold Fetches (one without long-poll, or one
   * declining because this client holds too many). Default 100 ms.
   */
  pollMs?: number
}

/**
 * NS client of a remote log service (`vac.ns.NS` over Twirp). Records are signed here and checked
 * again here on every resolve (signature, the name's key, no rollback), exactly as the local NS
 * does: a service that forges or serves an old record is caught. Addresses are `twirp:<name>`.
 * `watch` long-polls: each Fetch names the newest sequence it holds and the service answers once
 * the record is newer (or after its wait); against a service without long-poll it polls.
 * An Update the service already holds (`already_exists`, e.g. a retry whose first attempt landed)
 * counts as done.
 * @example
 * const ns = twirpNs({ url: 'http://127.0.0.1:7878' })
 * const { head } = await ns.resolve(name)
 */
export function twirpNs (options: TwirpNsOptions): RecordNameSystem {
  const client = twirpServiceClient(NS, options)
  const longPollMs = options.longPollMs ?? 25_000
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
      readNewer: longPollMs <= 0
        ? undefined
        : async (name, after, callOptions) => {
          const waitMs = Math.min(longPollMs, callOptions.waitMs)
          // The call may take the whole wait: its timeout is the wait plus the usual one.
          const timeoutMs = waitMs + (options.timeoutMs ?? 10_000)
          const answer = await callWithRetries(options, backend, callOptions.signal, async (s) =>
            await client.fetch({ name, afterSequence: after === undefined ? undefined : BigInt(after), waitMs }, { signal: s, timeoutMs }))
          return { record: answer.data.byteLength > 0 ? answer.data : undefined, waitMs: answer.waitMs }
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
