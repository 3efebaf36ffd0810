import { open } from 'node:fs/promises'
import { fail } from '../core/errors.js'

const WHAT = 'not a remotelog pack (a CAR file, as `remotelog export` writes)'

/** What the first bytes of a file that is not a pack look like, for the error line. */
function describe (head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed: gunzip it first'
  if (head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return 'it is a zip archive: unzip it first'
  if (head.subarray(0, 11).equals(Buffer.from('0aa16776657273696f6e02', 'hex'))) return 'it is a CARv2 file; remotelog packs are CARv1'
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head).replace(/\uFFFD+$/, '')
  if (text !== '' && /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes('\uFFFD')) {
    const start = text.split('\n')[0].slice(0, 40)
    return `it holds text, starting ${JSON.stringify(start)}${start.length < text.length ? '…' : ''}`
  }
  return `it starts with the bytes ${[...head.subarray(0, 8)].map(b => b.toString(16).padStart(2, '0')).join(' ')}`
}

/**
 * Checks that `file` starts like a CARv1 pack before a command reads it: NOT_FOUND when missing,
 * INVALID_INPUT for a folder, MALFORMED (saying what the file seems to be) when it is not a pack.
 * A file that starts like a pack is left to the full verification.
 */
export async function checkPackFile (file: string): Promise<void> {
  let handle
  try {
    handle = await open(file, 'r')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw fail('NOT_FOUND', `cannot read pack ${file}: no such file`)
    if (code === 'EISDIR') throw fail('INVALID_INPUT', `${file} is a folder, ${WHAT}`)
    throw e
  }
  let head: Buffer
  try {
    if ((await handle.stat()).isDirectory()) throw fail('INVALID_INPUT', `${file} is a folder, ${WHAT}`)
    const buffer = Buffer.alloc(64)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    head = buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
  if (head.length === 0) throw fail('MALFORMED', `${file} is empty: ${WHAT}`)
  // A CARv1 starts with its header's length (a varint) and the header, a DAG-CBOR map {roots, version}.
  let i = 0
  while (i < head.length && (head[i] & 0x80) !== 0) i++
  const map = head[i + 1]
  if (i < 4 && map !== undefined && map >= 0xa0 && map <= 0xbf && head.subarray(i + 1, i + 16).includes('roots')) return
  throw fail('MALFORMED', `${file} is ${WHAT}: ${describe(head)}`)
}
