import { HDNodeWallet, JsonRpcProvider } from 'ethers'
import { fail } from '../core/errors.js'
import type { FundedAccount } from './settings.js'

/** The mnemonic Hardhat Network derives its genesis accounts from (public, devnets only). */
const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk'

/**
 * The first `count` accounts a Hardhat node funds at genesis, with their private keys, checked
 * against the node's own `eth_accounts` (so a node with other accounts is caught, not mislabelled).
 * @example const [funder, ...others] = await fundedAccounts('http://127.0.0.1:8545', 5)
 */
export async function fundedAccounts (rpcUrl: string, count: number): Promise<FundedAccount[]> {
  const derived = Array.from({ length: count }, (_, i) => HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`))
  const provider = new JsonRpcProvider(rpcUrl, undefined, { batchMaxCount: 1, staticNetwork: true })
  try {
    const listed = (await provider.send('eth_accounts', []) as string[]).map(a => a.toLowerCase())
    for (const wallet of derived) {
      if (!listed.includes(wallet.address.toLowerCase())) {
        throw fail('INVALID_CONFIG', `the chain at ${rpcUrl} does not fund Hardhat's default account ${wallet.address}`, { backend: 'ens' })
      }
    }
    return derived.map(w => ({ address: w.address, privateKey: w.privateKey }))
  } finally {
    provider.destroy()
  }
}
