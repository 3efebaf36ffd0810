/** Page bytes kept by id up to a byte budget, between the walk back and delivery; oldest added go first. */
export class PageCache {
  private readonly pages = new Map<string, Uint8Array>()
  private bytes = 0

  constructor (private readonly budget: number) {}

  get (id: string): Uint8Array | undefined {
    return this.pages.get(id)
  }

  set (id: string, page: Uint8Array): void {
    if (page.byteLength > this.budget || this.pages.has(id)) return
    this.pages.set(id, page)
    this.bytes += page.byteLength
    for (const [key, value] of this.pages) {
      if (this.bytes <= this.budget) break
      this.pages.delete(key)
      this.bytes -= value.byteLength
    }
  }
}
