import { deployEns, type EnsDeployment } from './ens-deploy.js'
import { startHardhatNode, type HardhatNodeOptions } from './hardhat-node.js'

/** A running ENS devnet: what an `ens` NS config needs, plus `stop()`. */
export interface EnsDevnet extends EnsDeployment {
  rpcUrl: string
  /** The `ns` (or `resolvers.ens`) config block for endpoints using this devnet. */
  nsConfig: { driver: 'ens', rpcUrl: string, registry: string, resolver: string, registrar: string }
  stop: () => Promise<void>
}

/**
 * Starts `hardhat node` on 127.0.0.1 and deploys ENS on it: the devnet's ENS part in one call.
 * @example
 * const ens = await startEnsDevnet()
 * await saveConfig(path, { ...config, ns: ens.nsConfig })
 * await ens.stop()
 */
export async function startEnsDevnet (options: HardhatNodeOptions = {}): Promise<EnsDevnet> {
  const node = await startHardhatNode(options)
  try {
    const deployment = await deployEns({ rpcUrl: node.url, timeoutMs: options.timeoutMs })
    const { registry, resolver, registrar } = deployment
    return {
      ...deployment,
      rpcUrl: node.url,
      nsConfig: { driver: 'ens', rpcUrl: node.url, registry, resolver, registrar },
      stop: node.stop
    }
  } catch (e) {
    await node.stop()
    throw e
  }
}
