import createTestnet from 'hyperdht/testnet.js'
import type { HostPort } from 'hyperdht'

/** A running local DHT: the bootstrap list to put in a `hypercore` config, and how to stop it. */
export interface HypercoreTestnet {
  bootstrap: HostPort[]
  stop (): Promise<void>
}

export interface HypercoreTestnetOptions {
  /** DHT nodes to run; default 3. */
  size?: number
  /** UDP port of the bootstrap node; default hyperdht's 49737 when free, else any free port. */
  port?: number
}

/**
 * Starts a DHT testnet on 127.0.0.1, so Hypercore peers discover each other fully offline.
 * @example
 * const testnet = await startHypercoreTestnet()
 * const ns = await hypercoreNs({ bootstrap: testnet.bootstrap }, { stateDir })
 * await testnet.stop()
 */
export async function startHypercoreTestnet (options: HypercoreTestnetOptions = {}): Promise<HypercoreTestnet> {
  const testnet = await createTestnet(options.size ?? 3, { host: '127.0.0.1', port: options.port })
  let stopping: Promise<void> | undefined
  return {
    bootstrap: testnet.bootstrap.map(({ host, port }) => ({ host, port })),
    async stop () {
      stopping ??= testnet.destroy()
      await stopping
    }
  }
}
