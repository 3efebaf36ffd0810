import type { ServiceImpl } from '@connectrpc/connect'
import type { CID } from 'multiformats/cid'
import type { CallOptions, ContentStore } from '../core/content-store.js'
import { fail, isRemoteLogError } from '../core/errors.js'
import { checkSize, toCid } from '../core/ids.js'
import { logIdOfPublicKey } from '../core/log-id.js'
import type { NameSystem, ResolvedHead } from '../core/name-system.js'
import { equalBytes } from '../core/page.js'
import { decodePageHeader, type PageHeader } from '../core/page-header.js'
import { nameOfPublicKey } from '../core/signed-record.js'
import { openRelease } from '../core/signed-release.js'
import type { CAS } from '../proto/gen/vac/cas/cas_pb.js'

/** Most pages a Release walks back from the log's head before it gives up (and keeps the page). */
export const RELEASE_WALK_PAGES = 256

export interface CasServiceOptions {
  /**
   * The name system this service hosts. When it holds the name of a release's key, Release
   * refuses pages still in that log (see `casService`).
   */
  ns?: NameSystem
  /** The clock Release checks `not_after` against (ms since the epoch); default `Date.now`. */
  now?: () => number
}

/**
 * `vac.cas.CAS` served from any ContentStore: Add stores and answers the binary CID, Get returns
 * the bytes (the store verifies them against the id), Release deletes a replaced page on its log
 * owner's signed request — only a page whose log id is the signing key's, never one still in the
 * log when `ns` hosts its name (the checks: proto/vac/cas/cas.proto).
 * @example createServiceImplSpec(CAS, casService(await localCas({ path }), { ns }))
 */
export function casService (cas: ContentStore, options: CasServiceOptions = {}): ServiceImpl<typeof CAS> {
  const now = options.now ?? Date.now

  /** The header of `id`, or undefined when it is not there. */
  async function header (id: CID, where: string, signal: AbortSignal): Promise<PageHeader | undefined> {
    let bytes: Uint8Array
    try {
      bytes = await cas.get(id, { signal })
    } catch (e) {
      if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
      throw e
    }
    return decodePageHeader(bytes, where)
  }

  /** CONFLICT unless `page` is provably not in the log `head` stands for (see the proto's check 4). */
  async function checkNotInLog (id: CID, page: PageHeader, name: string, head: ResolvedHead, signal: AbortSignal): Promise<void> {
    const keep = (why: string): never => { throw fail('CONFLICT', `page ${id.toString()} is kept: ${why}`) }
    const firstSeq = page.firstSeq ?? 0
    let at: CID | undefined = head.head
    for (let walked = 0; at !== undefined; walked++) {
      if (at.equals(id)) keep(walked === 0 ? `it is the head of ${name}` : `it is still in the log of ${name} (${walked} pages back from its head)`)
      if (walked >= RELEASE_WALK_PAGES) keep(`the log of ${name} is more than ${RELEASE_WALK_PAGES} pages long back to its first sequence ${firstSeq}`)
      const current: PageHeader | undefined = await header(at, `page ${at.toString()} of ${name}`, signal).catch((e: unknown) => {
        if (isRemoteLogError(e, 'MALFORMED') || isRemoteLogError(e, 'INTEGRITY') || isRemoteLogError(e, 'TOO_LARGE')) return undefined
        throw e
      })
      if (current === undefined) keep(`page ${at.toString()} of ${name}'s log is missing or unreadable here, so the service cannot tell whether it links to it`)
      if (walked === 0 && (page.revision ?? 0) > (head.revision ?? current!.revision ?? 0)) {
        keep(`its revision ${page.revision} is newer than the revision ${head.revision ?? current!.revision} ${name} points at (a publish not yet made public)`)
      }
      // Pages go back in sequence: none before this one can be the released page.
      if ((current!.firstSeq ?? 0) < firstSeq) return
      at = current!.tail
    }
  }

  return {
    async add (request, context) {
      checkSize(request.data)
      const id = await cas.put(request.data, { signal: context.signal })
      return { id: id.bytes }
    },

    async get (request, context) {
      const id = toCid(request.id)
      return { data: await cas.get(id, { signal: context.signal }) }
    },

    async release (request, context) {
      const { id, publicKey } = openRelease(request, now())
      const signal = context.signal
      const name = nameOfPublicKey(publicKey)
      const page = await header(id, `object ${id.toString()}`, signal).catch((e: unknown) => {
        if (isRemoteLogError(e, 'MALFORMED') || isRemoteLogError(e, 'TOO_LARGE')) throw fail('PERMISSION', `${id.toString()} is not a remotelog page, so it is nobody's to release`, { cause: e })
        throw e
      })
      if (page === undefined) return { released: false }
      if (page.format < 1 || page.logId === undefined || !equalBytes(page.logId, logIdOfPublicKey(publicKey))) {
        throw fail('PERMISSION', `page ${id.toString()} is not a page of the log of key ${name}: only a page whose log id the key derives can be released with it`)
      }
      const head = await resolveHosted(options.ns, name, { signal })
      if (head !== undefined) await checkNotInLog(id, page, name, head, signal)
      if (cas.release !== undefined) await cas.release(id, { signal })
      else if (cas.capabilities.delete && cas.delete !== undefined) await cas.delete(id, { signal })
      else return { released: false }
      return { released: true }
    }
  }
}

/** Where `ns` points `name`, or undefined when it does not hold the name. */
async function resolveHosted (ns: NameSystem | undefined, name: string, options: CallOptions): Promise<ResolvedHead | undefined> {
  if (ns === undefined) return undefined
  try {
    return await ns.resolve(name, options)
  } catch (e) {
    if (isRemoteLogError(e, 'NOT_FOUND')) return undefined
    throw e
  }
}
