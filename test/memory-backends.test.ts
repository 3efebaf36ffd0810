import { casConformance } from './conformance/cas.js'
import { nsConformance } from './conformance/ns.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'

casConformance('memory', {
  create: async () => memoryCas(),
  corrupt: async (store, id) => { (store as ReturnType<typeof memoryCas>).tamper(id, new Uint8Array([1, 2, 3])) },
  abort: true
})

const shared = memoryNs()
nsConformance('memory', {
  // Two clients of one memory backend share its records; closing a client keeps them.
  create: async () => ({ ...shared, close: async () => {} })
})
