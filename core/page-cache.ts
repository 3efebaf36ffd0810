/** Page bytes kept by id up to a byte budget, between the walk back and delivery; oldest added go first. */
export class PageCache {
  private readonly pages = new Map<string, Uint8Array>()
  private bytes = 0

  constructor (private readonly budget: number) {}

  get (id: string): Uint8Array | undefined {
    return this.pages.get(id)
  }

  private readonly kept = new Set<string>()

  /** Keeps `page` while the budget allows; a `keep` page (the head) stays whatever the budget. */
  set (id: string, page: Uint8Array, keep = false): void {
    if (keep) this.kept.add(id)
    if ((page.byteLength > this.budget && !keep) || this.pages.has(id)) return
    this.pages.set(id, page)
    this.bytes += page.byteLength
    for (const [key, value] of this.pages) {
      if (this.bytes <= this.budget) break
      if (this.kept.has(key)) continue
      this.pages.delete(key)
      this.bytes -= value.byteLength
    }
  }
}
