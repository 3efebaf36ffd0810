// Publishes to a local NS folder from its own process, as another endpoint on the same machine does.
// Usage: node --import tsx local-publisher.ts <names folder> <owner secret hex>
// Each stdin line `N` publishes N successive heads (revision after revision) and prints
// {"revision","head"} of the last one.
import '../../core/node-compat.js'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import type { CID } from 'multiformats/cid'
import { localNs } from '../../adapters/ns/local.js'
import { cidOf } from '../../core/ids.js'

const [path, secretHex] = process.argv.slice(2)
const ns = localNs({ path })
const owner = { label: 'default', secret: Buffer.from(secretHex, 'hex') }
const name = await ns.nameOf(owner)
let revision = 0
let previous: CID | undefined
process.stdout.write(JSON.stringify({ name }) + '\n')
for await (const line of createInterface({ input: process.stdin })) {
  for (let i = 0; i < Number(line); i++) {
    const head = cidOf(randomBytes(16))
    revision++
    await ns.publish(name, { head, length: revision, revision }, owner, { previous })
    previous = head
  }
  process.stdout.write(JSON.stringify({ revision, head: previous?.toString() }) + '\n')
}
