// The remote log service (local on-disk backends under <dir>) in its own process, for benchmarks:
// prints `{ url }` and stops when stdin closes.
// Usage: tsx bench/helpers/service-process.ts <dir>
import '../../core/node-compat.js'
import { startRemoteLogService } from '../../devnet/remote-log-service.js'

const service = await startRemoteLogService({ dir: process.argv[2] })
process.stdout.write(JSON.stringify({ url: service.url }) + '\n')
process.stdin.resume()
process.stdin.on('end', () => { void service.stop().then(() => process.exit(0)) })
