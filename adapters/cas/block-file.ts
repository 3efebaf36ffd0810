import { randomBytes } from 'node:crypto'
import { closeSync, mkdir, open, rename, unlink, write } from 'node:fs'
import { dirname } from 'node:path'

/** Names this process's temp files apart from another process's (or worker's) writing the same block. */
const writer = `${process.pid}-${randomBytes(4).toString('hex')}`
let writes = 0

/**
 * Writes a block's file atomically: a temp file beside it, renamed over it (a reader sees the whole
 * block or none), with three round trips to libuv's thread pool (open, write, rename) where
 * blockstore-fs's `put` takes six (mkdir, open, write, close through a FileHandle, rename) — the
 * shard folder is made only when the write finds it missing, and `close` runs synchronously (it
 * does no I/O on a local file system). Like blockstore-fs it does not fsync: a block survives a
 * killed process, not a power cut.
 * @example await writeBlockFile(join(blocks, dir, file), bytes)
 */
export async function writeBlockFile (path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${writer}-${++writes}.tmp`
  try {
    await writeTemp(temp, bytes)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    await new Promise<void>((resolve, reject) => {
      mkdir(dirname(path), { recursive: true }, (error) => { if (error === null) resolve(); else reject(error) })
    })
    await writeTemp(temp, bytes)
  }
  await new Promise<void>((resolve, reject) => {
    rename(temp, path, (e) => {
      if (e === null) resolve()
      else unlink(temp, () => { reject(e) })
    })
  })
}

/** Creates `temp` with `bytes`; ENOENT (nothing created) when its folder is missing. */
async function writeTemp (temp: string, bytes: Uint8Array): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => {
    open(temp, 'wx', 0o644, (e, fd) => { if (e === null) resolve(fd); else reject(e) })
  })
  let isOpen = true
  try {
    for (let written = 0; written < bytes.byteLength;) {
      written += await new Promise<number>((resolve, reject) => {
        write(fd, bytes, written, bytes.byteLength - written, null, (e, n) => { if (e === null) resolve(n); else reject(e) })
      })
    }
    isOpen = false // the descriptor is released even when close reports an error
    closeSync(fd)
  } catch (e) {
    if (isOpen) closeSync(fd)
    await new Promise<void>(resolve => { unlink(temp, () => { resolve() }) })
    throw e
  }
}
