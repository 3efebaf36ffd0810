// A writer endpoint in its own process, as a real writer is: it appends N pointer-mode messages,
// publishes, prints one JSON line `{ address, multiaddrs }` and keeps its CAS serving until stdin closes.
// Usage: tsx bench/helpers/log-writer-process.ts <stateDir> <nsDir> <messages> '<cas config JSON>'
import '../../core/node-compat.js'
import { randomBytes } from 'node:crypto'
import { openEndpoint } from '../../config/open-endpoint.js'
import type { HeliaContentStore } from '../../adapters/cas/helia.js'

const [dir, nsDir, count, casJson] = process.argv.slice(2)
const messages = Number(count)
const alice = await openEndpoint({ dir, config: { cas: JSON.parse(casJson), ns: { driver: 'local', path: nsDir }, log: { mode: 'pointer' } } })
for (let sent = 0; sent < messages; sent += 1000) {
  await alice.append(Array.from({ length: Math.min(1000, messages - sent) }, (_, i) => `message ${sent + i} ${randomBytes(8).toString('hex')}`))
}
await alice.publish()
const multiaddrs = typeof (alice.cas as Partial<HeliaContentStore>).multiaddrs === 'function' ? (alice.cas as HeliaContentStore).multiaddrs() : []
process.stdout.write(JSON.stringify({ address: await alice.address(), multiaddrs }) + '\n')
process.stdin.resume()
process.stdin.on('end', () => { void alice.close().then(() => process.exit(0)) })
