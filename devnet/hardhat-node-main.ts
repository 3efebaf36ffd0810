// The child process `startHardhatNode` runs: Hardhat's `node` task (the JSON-RPC server of
// `hardhat node`) run in-process rather than through Hardhat's CLI, which would also send telemetry
// where a user once consented to it and fetch a banner from GitHub. Usage: <this file> [port]
import { hardhatConfigFile } from './hardhat-network.js'

process.env.HARDHAT_CONFIG = await hardhatConfigFile()
const port = Number(process.argv[2] ?? 0)

// Leave with the parent: its end of our stdin closes when it exits, even when it is killed.
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()

const hre = (await import('hardhat')).default
await hre.run('node', { hostname: '127.0.0.1', port })
