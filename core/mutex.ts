/** Runs async sections one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()

  async run<T> (section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section)
    this.tail = result.catch(() => {})
    return await result
  }
}
