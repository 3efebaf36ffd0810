import type { Page } from './page.js'

/** Decoded pages kept by id up to a byte budget; the oldest added go first. */
export class PageCache {
  private readonly pages = new Map<string, { page: Page, bytes: number }>()
  private bytes = 0

  constructor (private readonly budget: number) {}

  get (id: string): Page | undefined {
    return this.pages.get(id)?.page
  }

  set (id: string, page: Page, bytes: number): void {
    if (bytes > this.budget || this.pages.has(id)) return
    this.pages.set(id, { page, bytes })
    this.bytes += bytes
    for (const [key, value] of this.pages) {
      if (this.bytes <= this.budget) break
      this.pages.delete(key)
      this.bytes -= value.bytes
    }
  }
}
