import createTestnet from 'hyperdht/testnet.js'
import type { HostPort } from 'hyperdht'

/** A running local DHT: the bootstrap list to put in a `hypercore` config, and how to stop it. */
export interface HypercoreTestnet {
  bootstrap: HostPort[]
  stop (): Promise<void>
}

/**
 * Starts a DHT testnet of `size` nodes on 127.0.0.1 (the first takes hyperdht's default port
 * 49737 when free, else any port), so Hypercore peers discover each other fully offline.
 * @example
 * const testnet = await startHypercoreTestnet()
 * const ns = await hypercoreNs({ bootstrap: testnet.bootstrap }, { stateDir })
 * await testnet.stop()
 */
export async function startHypercoreTestnet (size = 3): Promise<HypercoreTestnet> {
  const testnet = await createTestnet(size, { host: '127.0.0.1' })
  let stopping: Promise<void> | undefined
  return {
    bootstrap: testnet.bootstrap.map(({ host, port }) => ({ host, port })),
    async stop () {
      stopping ??= testnet.destroy()
      await stopping
    }
  }
}
