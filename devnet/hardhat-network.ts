import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HardhatUserConfig } from 'hardhat/config.js'
import type { Eip1193Provider } from 'ethers'

/**
 * The devnet chain's Hardhat 2 configuration: the local Hardhat Network only (no remote networks,
 * no keys), nothing to compile — the ENS contracts are deployed from the compiled artifacts that
 * `@ensdomains/ens` and `@ensdomains/resolver` ship (see devnet/ens-deploy.ts).
 */
export const hardhatConfig: HardhatUserConfig = {
  defaultNetwork: 'hardhat',
  // `hardhat node` logs every JSON-RPC call by default; the devnet stays quiet (and faster).
  networks: { hardhat: { chainId: 31337, loggingEnabled: false } }
}

/**
 * Writes `hardhatConfig` where Hardhat can load it and returns the file. Hardhat 2 loads its config
 * with `require()`, so the file is CommonJS data written at run time: it works the same from this
 * repository and from an installed package (which ships no TypeScript), and Hardhat's cache and
 * artifact folders land beside it, outside the project.
 */
export async function hardhatConfigFile (): Promise<string> {
  const dir = join(tmpdir(), `remotelog-hardhat-${process.getuid?.() ?? 'user'}`)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'hardhat.config.cjs')
  await writeFile(file, `// Written by remotelog (devnet/hardhat-network.ts); rewritten on every start.\nmodule.exports = ${JSON.stringify(hardhatConfig, null, 2)}\n`)
  return file
}

/**
 * Hardhat's in-process network as an EIP-1193 provider (~0.5 s to start, no port, gone with the
 * process). Hardhat keeps one runtime per process, so every call in a process returns the same
 * chain. Sets `HARDHAT_CONFIG` to the devnet's config unless it is already set.
 * @example
 * const provider = await inProcessHardhat()
 * const ens = await deployEns({ provider })
 */
export async function inProcessHardhat (): Promise<Eip1193Provider> {
  process.env.HARDHAT_CONFIG ??= await hardhatConfigFile()
  const hre = (await import('hardhat')).default
  return hre.network.provider as Eip1193Provider
}
