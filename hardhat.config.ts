import type { HardhatUserConfig } from 'hardhat/config.js'

/**
 * Hardhat 2 configuration of the remotelog devnet chain: the local Hardhat Network only (no remote
 * networks, no keys), and nothing to compile — the ENS contracts are deployed from the compiled
 * artifacts that `@ensdomains/ens` and `@ensdomains/resolver` ship (see devnet/ens-deploy.ts).
 *
 * Hardhat 2 loads its config with `require()`, which cannot load TypeScript in this ESM package, so
 * Hardhat is pointed at `hardhat.config.cjs`, a one-line shim that loads this file through tsx:
 * `npx hardhat --config hardhat.config.cjs node`. A bare `npx hardhat` finds this file first and
 * asks for ts-node (HH13); devnet/ and the tests always pass the shim.
 */
const config: HardhatUserConfig = {
  defaultNetwork: 'hardhat',
  networks: {
    hardhat: {
      chainId: 31337,
      // `hardhat node` logs every JSON-RPC call by default; the devnet stays quiet (and faster).
      loggingEnabled: false
    }
  },
  // Hardhat's cache and artifact folders (never filled: nothing is compiled) stay out of the tree.
  paths: {
    sources: 'devnet/contracts',
    cache: '.hardhat/cache',
    artifacts: '.hardhat/artifacts'
  }
}

export default config
