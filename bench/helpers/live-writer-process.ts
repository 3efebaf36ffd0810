// A writer endpoint in its own process, for bench/live-follow.ts. It publishes one message, prints
// `{ address }`, then for every line on stdin appends one 256-byte message and publishes it, printing
// `{ start, publishMs, head }` (start: wall clock in ms, fractional, taken right before the publish).
// Usage: tsx bench/helpers/live-writer-process.ts <stateDir> '<endpoint config JSON>'
import '../../core/node-compat.js'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { openEndpoint } from '../../config/open-endpoint.js'

const [dir, configJson] = process.argv.slice(2)
const writer = await openEndpoint({ dir, config: JSON.parse(configJson) })
await writer.append(['hello'])
await writer.publish()
process.stdout.write(JSON.stringify({ address: await writer.address() }) + '\n')
const wallClock = (): number => performance.timeOrigin + performance.now()
for await (const _line of createInterface({ input: process.stdin })) {
  await writer.append([randomBytes(128).toString('hex')])
  const start = wallClock()
  const published = await writer.publish()
  process.stdout.write(JSON.stringify({ start, publishMs: wallClock() - start, head: published?.head.toString() }) + '\n')
}
await writer.close()
