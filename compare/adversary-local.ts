import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromBinary } from '@bufbuild/protobuf'
import { decodePointer, encodePointer } from '../core/head-pointer.js'
import type { HeadRecord } from '../core/name-system.js'
import { keyPairFromSecret, signRecord } from '../core/signed-record.js'
import { SignedRecordSchema } from '../proto/gen/vac/remotelog/remotelog_pb.js'
import type { NsAdversary } from './adversary.js'
import type { BackendAnswer } from './metrics.js'

export interface LocalAdversaryOptions {
  /** The local name system's folder (`<store>/names`, or a devnet's `local/names`). */
  names: string
  name: string
}

/**
 * The raw attacker of the local name system: it writes record files straight into the names folder
 * (no lock, no check), as any process with write access to the folder can. A folder enforces
 * nothing, so these writes land; what stops them is every reader's check of the record.
 * @example const mallory = localAdversary({ names: '/tmp/store/names', name })
 */
export function localAdversary (options: LocalAdversaryOptions): NsAdversary {
  const file = join(options.names, `${options.name}.record`)
  let remembered: Uint8Array | undefined
  let before: Uint8Array | undefined

  const read = async (): Promise<Uint8Array | undefined> => await readFile(file).then(b => new Uint8Array(b), (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined
    throw e
  })
  const write = async (bytes: Uint8Array, what: string): Promise<BackendAnswer> => {
    before = await read()
    const temp = `${file}.mallory-${randomBytes(4).toString('hex')}`
    await writeFile(temp, bytes)
    await rename(temp, file)
    return { accepted: true, short: 'file written', summary: `${what} written straight to ${file}: a folder checks nothing` }
  }

  return {
    backend: 'local',

    async remember () {
      remembered = await read()
    },

    async foreignWrite (forged: HeadRecord) {
      const mallory = keyPairFromSecret(randomBytes(32))
      return await write(signRecord(options.name, forged.revision, encodePointer(forged), mallory), `a record signed by another key (revision ${forged.revision})`)
    },

    async rollback () {
      if (remembered === undefined) throw new Error('localAdversary.rollback: nothing remembered (call remember() after the first publish)')
      const sequence = Number(fromBinary(SignedRecordSchema, remembered).sequence)
      return await write(remembered, `the owner's own older record (sequence ${sequence}) copied back`)
    },

    async head () {
      const bytes = await read()
      if (bytes === undefined) return undefined
      return decodePointer(fromBinary(SignedRecordSchema, bytes).value).head.toString()
    },

    async restore () {
      if (before !== undefined) await write(before, 'the record from before the attack')
    },

    async close () {}
  }
}
