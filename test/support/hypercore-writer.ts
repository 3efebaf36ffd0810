// A writer endpoint in its own process, so a test can kill it (SIGKILL) and show readers no longer
// need it. Usage: node --import tsx hypercore-writer.ts <stateDir> <config JSON> <messages> <publishes>
// Prints {"address","length"} once everything is published, then stays online until killed.
import '../../core/node-compat.js'
import { openEndpoint } from '../../config/open-endpoint.js'

const [dir, configJson, messages, publishes] = process.argv.slice(2)
const total = Number(messages)
const batches = Number(publishes)
const alice = await openEndpoint({ dir, config: JSON.parse(configJson) })
let length = 0
for (let b = 0; b < batches; b++) {
  const size = Math.ceil(total / batches)
  const texts = Array.from({ length: Math.min(size, total - length) }, (_, i) => `message ${length + i} from alice`)
  await alice.append(texts)
  length = (await alice.publish())?.length ?? length
}
process.stdout.write(JSON.stringify({ address: await alice.address(), length }) + '\n')
setInterval(() => {}, 60_000)
