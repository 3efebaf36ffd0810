import type { CID } from 'multiformats/cid'
import { fail } from './errors.js'
import { cidOf, toCid } from './ids.js'
import { decodeManifest, type PackManifest } from './pack-manifest.js'
import { decodePage, type Page } from './page.js'
import { checkHeadPage, checkTail, missingTail } from './page-chain.js'
import { checkScrubbedEntries } from './page-header.js'

/** What a verified pack holds. */
export interface PackSummary {
  /** The head page's CID (the CAR's first root). */
  head: string
  /** The log's address, when the pack names it. */
  address?: string
  /** Entries in the log at the head, and its publish counter. */
  length: number
  revision: number
  /** 0 for a full pack; else the first sequence the pack was asked to hold. */
  since: number
  incremental: boolean
  /** First sequence of the oldest page in the pack. */
  firstSeq: number
  /** Incremental packs: the tail of the oldest page, which an earlier pack (or the store) must hold. */
  continues?: string
  pages: number
  /** Payload blocks (pointer and hybrid modes), once per page that points at them. */
  payloads: number
  /** Entries from `since` on, and how many of them are inline or tombstones. */
  messages: number
  inline: number
  tombstones: number
  /** Sequence numbers scrubbed from the log (the head page's list). */
  scrubbed: number[]
  blocks: number
  /** Bytes of all blocks (without the CAR framing). */
  bytes: number
}

/**
 * The oldest sequence whose page a pack `since` holds. An incremental pack reaches back to the page
 * of `since - 1`: at the previous backup that page was the head, and it has been rewritten since
 * (filled, new revision), so its current version is not in the earlier pack. Older pages were
 * full then and never change, so the two packs together hold the whole chain.
 * @example walkChain(cas, head, { from: packReach(since) })
 */
export function packReach (since: number): number {
  return since > 0 ? since - 1 : 0
}

/** The role of a block in a pack, in the order remotelog writes them. */
export type PackBlockKind = 'manifest' | 'head' | 'page' | 'payload'

/**
 * Checks a pack block by block as it streams by, holding one page's pending payloads at a time.
 * The order is the one `exportPack` writes: the manifest, then each page from the head back
 * followed by the payloads its entries point at. Every block must hash to its CID, every page must
 * continue the one before it, every payload must arrive, and a full pack must reach sequence 0.
 * Throws INTEGRITY for a block that does not match its CID, MALFORMED for anything else wrong.
 * @example
 * const check = new PackChecker(await car.getRoots())
 * for await (const { cid, bytes } of car) check.accept(cid, bytes)
 * const summary = check.finish()
 */
export class PackChecker {
  readonly head: CID
  private readonly manifestId?: CID
  private manifest?: PackManifest
  private since = 0
  private nextPage?: CID
  private last?: { id: CID, page: Page }
  private headPage?: Page
  /** The head page's scrubbed list: every page's entries must agree with it. */
  private scrubbed = new Set<number>()
  /** Payloads the current page points at that have not arrived yet: CID → first seq using it. */
  private pending = new Map<string, number>()
  private counts = { pages: 0, payloads: 0, messages: 0, inline: 0, tombstones: 0, blocks: 0, bytes: 0 }

  constructor (roots: CID[]) {
    if (roots.length < 1 || roots.length > 2) throw fail('MALFORMED', `not a remotelog pack: the CAR has ${roots.length} roots (expected the head page, and a manifest)`)
    const asId = (cid: CID, what: string): CID => {
      try {
        return toCid(cid)
      } catch (cause) {
        throw fail('MALFORMED', `not a remotelog pack: the ${what} root ${cid.toString()} is not a raw sha2-256 CIDv1`, { cause })
      }
    }
    this.head = asId(roots[0], 'first')
    if (roots.length === 2) this.manifestId = asId(roots[1], 'second')
    this.nextPage = this.head
  }

  /** Blocks and bytes seen so far, and entries checked. */
  get progress (): { blocks: number, bytes: number, messages: number } {
    return { blocks: this.counts.blocks, bytes: this.counts.bytes, messages: this.counts.messages }
  }

  /** Checks the next block of the stream; returns its role. */
  accept (cid: CID, bytes: Uint8Array): PackBlockKind {
    return this.take(cid, bytes)
  }

  /**
   * `accept` for a page the caller has already checked itself, as `walkChain` yields them: `bytes`
   * hash to `cid` (`fetchPageBytes` checked them) and `page` is `decodePage(bytes)`. The page is
   * neither hashed nor decoded again; every other check is the same. For bytes from outside (a
   * pack file) use `accept`.
   * @example for await (const { id, bytes, page } of walkChain(cas, head)) check.acceptPage(id, bytes, page)
   */
  acceptPage (cid: CID, bytes: Uint8Array, page: Page): PackBlockKind {
    return this.take(cid, bytes, page)
  }

  /** With `decoded`, the block is one the caller checked against its CID and decoded. */
  private take (cid: CID, bytes: Uint8Array, decoded?: Page): PackBlockKind {
    const n = this.counts.blocks
    let id: CID
    try {
      id = toCid(cid)
    } catch (cause) {
      throw fail('MALFORMED', `block #${n} (${cid.toString()}) is not a raw sha2-256 CIDv1: not a remotelog block`, { cause })
    }
    if (decoded === undefined && !id.equals(cidOf(bytes))) throw fail('INTEGRITY', `block #${n} does not hash to its CID ${id.toString()}: the pack is corrupt`)
    this.counts.blocks++
    this.counts.bytes += bytes.byteLength

    if (this.manifestId !== undefined && this.manifest === undefined) {
      if (id.toString() !== this.manifestId.toString()) throw fail('MALFORMED', `block #${n} (${id.toString()}) comes before the manifest ${this.manifestId.toString()}, which must be first`)
      this.manifest = decodeManifest(bytes)
      if (this.manifest.head !== this.head.toString()) throw fail('MALFORMED', `the manifest names head ${this.manifest.head} but the pack is rooted at ${this.head.toString()}`)
      this.since = this.manifest.since
      return 'manifest'
    }
    const key = id.toString()
    if (this.nextPage !== undefined && key === this.nextPage.toString()) return this.takePage(id, decoded ?? decodePage(bytes, `page ${id.toString()}`))
    if (decoded !== undefined) throw fail('MALFORMED', `page ${key} comes where ${this.nextPage === undefined ? 'no page' : `page ${this.nextPage.toString()}`} should`)
    if (this.pending.delete(key)) {
      this.counts.payloads++
      return 'payload'
    }
    if (this.last === undefined) throw fail('MALFORMED', `block #${n} (${key}) comes where the head page ${this.head.toString()} should: the head page is missing`)
    if (this.pending.size > 0) throw fail('MALFORMED', `block #${n} (${key}) is not one of the payloads of page ${this.last.id.toString()}: ${this.missingPayload().message.replace(/^\[remotelog\] MALFORMED: /, '')}`)
    if (this.nextPage !== undefined) throw fail('MALFORMED', `page ${this.nextPage.toString()} (sequences before ${this.last.page.firstSeq}) is missing: block #${n} (${key}) comes in its place`)
    throw fail('MALFORMED', `block #${n} (${key}) comes after the oldest page the pack should hold`)
  }

  private takePage (id: CID, page: Page): PackBlockKind {
    if (this.pending.size > 0) throw this.missingPayload()
    const isHead = this.last === undefined
    if (isHead) {
      checkHeadPage(id, page)
      const m = this.manifest
      if (m !== undefined && (m.length !== page.length || m.revision !== page.revision)) {
        throw fail('MALFORMED', `the manifest says length ${m.length}, revision ${m.revision}; the head page says ${page.length}, ${page.revision}`)
      }
      if (this.since > page.length!) throw fail('MALFORMED', `the manifest says since ${this.since}, past the log's length ${page.length}`)
      this.headPage = page
      this.scrubbed = new Set(page.scrubbed)
    } else {
      checkTail(this.last!, { id, page })
    }
    checkScrubbedEntries(`page ${id.toString()}`, page.entries, this.scrubbed, true)
    this.counts.pages++
    for (const e of page.entries) {
      if (e.seq < this.since) continue
      this.counts.messages++
      if (e.tombstone === true) this.counts.tombstones++
      else if (e.data !== undefined) this.counts.inline++
      if (e.remoteHash !== undefined && !this.pending.has(e.remoteHash.toString())) this.pending.set(e.remoteHash.toString(), e.seq)
    }
    this.last = { id, page }
    if (page.firstSeq! <= packReach(this.since)) this.nextPage = undefined
    else if (page.tail === undefined) throw missingTail(id, page)
    else this.nextPage = page.tail
    return isHead ? 'head' : 'page'
  }

  private missingPayload (): Error {
    const [cid, seq] = this.pending.entries().next().value as [string, number]
    return fail('MALFORMED', `payload ${cid} of entry ${seq} (page ${this.last!.id.toString()}) is missing from the pack${this.pending.size > 1 ? ` (and ${this.pending.size - 1} more)` : ''}`)
  }

  /** Checks that nothing is missing at the end of the stream; returns what the pack holds. */
  finish (): PackSummary {
    if (this.manifestId !== undefined && this.manifest === undefined) throw fail('MALFORMED', 'the pack holds no blocks: the manifest is missing')
    if (this.pending.size > 0) throw this.missingPayload()
    if (this.headPage === undefined) throw fail('MALFORMED', `the head page ${this.head.toString()} is missing from the pack`)
    if (this.nextPage !== undefined) {
      const reach = this.since > 0 ? `down to sequence ${packReach(this.since)} (incremental pack since ${this.since})` : 'down to sequence 0'
      throw fail('MALFORMED', `page ${this.nextPage.toString()} (sequences before ${this.last!.page.firstSeq}) is missing: the pack does not reach ${reach}`)
    }
    const oldest = this.last!.page
    const head = this.headPage
    return {
      head: this.head.toString(),
      ...(this.manifest?.address !== undefined ? { address: this.manifest.address } : {}),
      length: head.length!,
      revision: head.revision!,
      since: this.since,
      incremental: this.since > 0,
      firstSeq: oldest.firstSeq!,
      ...(this.since > 0 && oldest.tail !== undefined ? { continues: oldest.tail.toString() } : {}),
      ...this.counts,
      scrubbed: [...head.scrubbed]
    }
  }
}
