import { createRequire } from 'node:module'
import { Contract, ContractFactory, Wallet, ZeroHash, getCreateAddress, id, keccak256, namehash, toUtf8Bytes, type InterfaceAbi } from 'ethers'
import { fail } from '../core/errors.js'
import { connectChain, type Chain, type ChainOptions } from '../adapters/ns/ens-chain.js'
import { REGISTRY_ABI, TLD } from '../adapters/ns/ens-contracts.js'
import { gasTank } from '../adapters/ns/ens-gas.js'

/** Where ENS lives on a chain: what the devnet writes to its settings and `ensNs` takes. */
export interface EnsDeployment {
  registry: string
  resolver: string
  registrar: string
  /** The account that deployed ENS and owns the root node. */
  deployer: string
  chainId: number
}

export interface DeployEnsOptions extends ChainOptions {
  /**
   * Key of the deploying account. Default: a fixed devnet key (keccak256 of "remotelog devnet ENS
   * deployer"), so that a fresh devnet always has ENS at the same three addresses.
   */
  deployerKey?: string
}

/** The devnet's deployer key. Public by design: it only ever deploys ENS on a local chain. */
export const DEVNET_DEPLOYER_KEY = keccak256(toUtf8Bytes('remotelog devnet ENS deployer'))

interface Artifact { abi: InterfaceAbi, bytecode: string }

const require = createRequire(import.meta.url)
function artifact (path: string): Artifact {
  const { abi, bytecode } = require(path) as Artifact
  return { abi, bytecode }
}

/**
 * Deploys ENS from the compiled artifacts `@ensdomains/ens` 0.6.2 and `@ensdomains/resolver` 0.3.1
 * ship (no compiler): ENSRegistry, PublicResolver, and a FIFSRegistrar that owns `eth`. Each step
 * is the deployer's next transaction, so the addresses follow from the deployer's nonces: a second
 * call finds the steps done and sends nothing, and a call after a half-finished one completes it.
 * The deployer is funded from the chain's funder account (see `ChainOptions.funderKey`).
 * Works on Hardhat's in-process network (`provider`) and on `hardhat node` (`rpcUrl`).
 * @example
 * const { registry, resolver, registrar } = await deployEns({ rpcUrl: 'http://127.0.0.1:8545' })
 */
export async function deployEns (options: DeployEnsOptions): Promise<EnsDeployment> {
  const chain = await connectChain(options)
  try {
    return await deployWith(chain, options.deployerKey ?? DEVNET_DEPLOYER_KEY)
  } finally {
    chain.close()
  }
}

async function deployWith (chain: Chain, deployerKey: string): Promise<EnsDeployment> {
  let deployer: Wallet
  try {
    deployer = new Wallet(deployerKey, chain.provider)
  } catch (cause) {
    throw fail('INVALID_CONFIG', 'the ENS deployer key is not a valid private key', { backend: 'ens', cause })
  }
  const from = deployer.address
  const at = (nonce: number): string => getCreateAddress({ from, nonce })
  const addresses = { registry: at(0), resolver: at(1), registrar: at(2) }
  const ethNode = namehash(TLD)

  const steps: Array<() => Promise<unknown>> = [
    async () => await deploy(chain, deployer, artifact('@ensdomains/ens/build/contracts/ENSRegistry.json'), []),
    async () => await deploy(chain, deployer, artifact('@ensdomains/resolver/build/contracts/PublicResolver.json'), [addresses.registry]),
    async () => await deploy(chain, deployer, artifact('@ensdomains/ens/build/contracts/FIFSRegistrar.json'), [addresses.registry, ethNode]),
    async () => {
      const registry = new Contract(addresses.registry, REGISTRY_ABI, deployer)
      const tx = await registry.setSubnodeOwner(ZeroHash, id(TLD), addresses.registrar)
      await tx.wait(1, chain.timeoutMs)
    }
  ]

  const done = await chain.bounded('eth_getTransactionCount', async () => await chain.provider.getTransactionCount(from, 'latest'))
  if (done < steps.length) {
    await gasTank(chain).ensure(from)
    for (let step = done; step < steps.length; step++) await chain.bounded(`ENS deployment step ${step + 1}/${steps.length}`, steps[step])
  }

  const registry = new Contract(addresses.registry, REGISTRY_ABI, chain.provider)
  const ethOwner = await chain.bounded('owner of eth', async () => await registry.owner(ethNode) as string).catch(() => undefined)
  if (ethOwner !== addresses.registrar) {
    throw fail('INVALID_CONFIG', `ENS at ${addresses.registry} on ${chain.where} is not the one this deployer (${from}) set up: its transactions were used for something else`, { backend: 'ens' })
  }
  return { ...addresses, deployer: from, chainId: Number((await chain.provider.getNetwork()).chainId) }
}

async function deploy (chain: Chain, deployer: Wallet, { abi, bytecode }: Artifact, args: unknown[]): Promise<string> {
  const contract = await new ContractFactory(abi, bytecode, deployer).deploy(...args)
  await contract.deploymentTransaction()?.wait(1, chain.timeoutMs)
  return await contract.getAddress()
}
