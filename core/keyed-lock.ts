import { Mutex } from './mutex.js'

/** One Mutex per key, dropped when no section for that key is waiting. */
export class KeyedLock {
  private readonly locks = new Map<string, { mutex: Mutex, users: number }>()

  async run<T> (key: string, section: () => Promise<T>): Promise<T> {
    let entry = this.locks.get(key)
    if (entry === undefined) this.locks.set(key, entry = { mutex: new Mutex(), users: 0 })
    entry.users++
    try {
      return await entry.mutex.run(section)
    } finally {
      if (--entry.users === 0) this.locks.delete(key)
    }
  }

  /** Keys with a section running or waiting. */
  get size (): number { return this.locks.size }
}
