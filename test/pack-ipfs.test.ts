import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { create } from 'kubo-rpc-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { kuboCas } from '../adapters/cas/kubo.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { startIpfsRpcNode, type IpfsRpcNode } from '../devnet/ipfs-rpc-node.js'
import { cidOf } from '../core/ids.js'
import { exportPack } from '../core/pack-export.js'
import { openPack } from '../core/pack-read.js'
import { LogReader } from '../core/reader.js'
import { mixedLog } from './support/mixed-log.js'
import { tempDir } from './support/temp-dir.js'

let node: IpfsRpcNode
beforeAll(async () => { node = await startIpfsRpcNode() })
afterAll(async () => { await node?.stop() })

describe('our CAR in an IPFS node', () => {
  it('`dag import` through the RPC API accepts the pack; a kubo-backed reader then syncs the log from the node', async () => {
    const source = memoryCas()
    const ns = memoryNs()
    const log = await mixedLog(source, ns, [['inline', 200], ['pointer', 200], ['hybrid', 100]], { pageEntries: 40, batch: 100 })
    const pack = join(await tempDir(), 'log.car')
    const summary = await exportPack(pack, { cas: source, head: log.writer.head! })

    const client = create({ url: node.url })
    const roots = []
    for await (const result of client.dag.import([createReadStream(pack)], { timeout: 30_000 })) roots.push(result.root)
    // Both roots (the head page and the manifest) imported and pinned.
    const opened = await openPack(pack)
    opened.close()
    expect(roots.map(r => r.cid.toString()).sort()).toEqual(opened.roots.map(String).sort())
    expect(roots.map(r => r.cid.toString())).toContain(summary.head)
    expect(roots.every(r => r.pinErrorMsg === undefined || r.pinErrorMsg === '')).toBe(true)

    // The node serves the same CIDs: the head page's bytes come back unchanged.
    const head = await client.block.get(log.writer.head!, { timeout: 5000 })
    expect(cidOf(head).equals(log.writer.head!)).toBe(true)

    // A reader whose CAS is the node (nothing else holds the blocks) gets every message.
    const cas = kuboCas({ url: node.url, timeoutMs: 5000 })
    const sync = new LogReader({ cas, ns, name: log.name }).sync({ length: 0 })
    const got: Array<[number, string]> = []
    for await (const m of sync.messages) got.push([m.seq, Buffer.from(m.payload!).toString('hex')])
    const outcome = await sync.done
    expect(outcome.cursor.length).toBe(500)
    expect(got).toEqual(log.expected.map(e => [e.seq, Buffer.from(e.payload).toString('hex')]))
  })
})
