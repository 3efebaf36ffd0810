import { fileURLToPath } from 'node:url'
import type { Eip1193Provider } from 'ethers'

/**
 * The config Hardhat is pointed at: `hardhat.config.cjs`, the shim that loads `hardhat.config.ts`
 * (Hardhat 2 loads configs with `require()`, and this package is ESM).
 */
export const HARDHAT_CONFIG_PATH = fileURLToPath(new URL('../hardhat.config.cjs', import.meta.url))

/**
 * Hardhat's in-process network as an EIP-1193 provider (~0.5 s to start, no port, gone with the
 * process). Hardhat keeps one runtime per process, so every call in a process returns the same
 * chain. Sets `HARDHAT_CONFIG` to this project's config unless it is already set.
 * @example
 * const provider = await inProcessHardhat()
 * const ens = await deployEns({ provider })
 */
export async function inProcessHardhat (): Promise<Eip1193Provider> {
  process.env.HARDHAT_CONFIG ??= HARDHAT_CONFIG_PATH
  const hre = (await import('hardhat')).default
  return hre.network.provider as Eip1193Provider
}
