import { closeSync, fstatSync, open, read } from 'node:fs'

/**
 * A small file's bytes, read with two round trips to libuv's thread pool (open, read) where
 * `fs.promises.readFile` takes four (open, fstat, read, close) through a FileHandle — on a busy
 * server each round trip (two context switches) costs more than the system call it makes. `fstat`
 * and `close` run synchronously: on a descriptor just opened on a local file system they do no I/O.
 * Errors are the file system's (ENOENT for a missing file).
 * @example const record = await readWholeFile(join(folder, `${name}.record`))
 */
export async function readWholeFile (path: string): Promise<Uint8Array> {
  const fd = await new Promise<number>((resolve, reject) => {
    open(path, 'r', (e, fd) => { if (e === null) resolve(fd); else reject(e) })
  })
  try {
    const bytes = new Uint8Array(fstatSync(fd).size)
    let size = 0
    // Read until the file's size as it was opened; a file that shrank since ends the read early.
    while (size < bytes.byteLength) {
      const n = await new Promise<number>((resolve, reject) => {
        read(fd, bytes, size, bytes.byteLength - size, size, (e, n) => { if (e === null) resolve(n); else reject(e) })
      })
      if (n === 0) break
      size += n
    }
    return size === bytes.byteLength ? bytes : bytes.slice(0, size)
  } finally {
    closeSync(fd)
  }
}
