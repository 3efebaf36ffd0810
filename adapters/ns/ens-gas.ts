import { parseEther, type TransactionReceipt } from 'ethers'
import type { CallOptions } from '../../core/content-store.js'
import { fail } from '../../core/errors.js'
import { Mutex } from '../../core/mutex.js'
import type { Chain } from './ens-chain.js'

export interface GasTankOptions {
  /** Below this balance an account is topped up before it sends. Default 0.05 ETH. */
  minWei?: bigint
  /** What a top-up sends. Default 1 ETH (~10k contenthash overwrites on the devnet). */
  topUpWei?: bigint
}

/** Keeps owners' accounts able to pay for gas, paid from the chain's funder account. */
export interface GasTank {
  /** Tops `address` up when it may be below the minimum. Reads the balance only when unsure. */
  ensure: (address: string, options?: CallOptions) => Promise<void>
  /** Books a receipt's cost against the account's known balance. */
  spent: (address: string, receipt: TransactionReceipt) => void
  /** Forgets what is known of `address` (e.g. after an "insufficient funds" error). */
  forget: (address: string) => void
}

/**
 * Tracks each owner's balance locally (read once, then minus each receipt's cost), so a publish does
 * not pay an extra `eth_getBalance` round trip; the funder's top-ups are sent one at a time.
 * @example
 * const tank = gasTank(chain)
 * await tank.ensure(wallet.address)
 */
export function gasTank (chain: Chain, options: GasTankOptions = {}): GasTank {
  const minWei = options.minWei ?? parseEther('0.05')
  const topUpWei = options.topUpWei ?? parseEther('1')
  const known = new Map<string, bigint>()
  const funding = new Mutex()

  return {
    async ensure (address, callOptions) {
      const estimate = known.get(address)
      if (estimate !== undefined && estimate >= minWei) return
      await funding.run(async () => {
        const balance = await chain.bounded('eth_getBalance', async () => await chain.provider.getBalance(address), callOptions)
        if (balance >= minWei) {
          known.set(address, balance)
          return
        }
        const funder = await chain.funder()
        const receipt = await chain.bounded(`funding ${address}`, async () => {
          const tx = await funder.sendTransaction({ to: address, value: topUpWei })
          return await tx.wait(1, chain.timeoutMs)
        }, callOptions).catch((cause: unknown) => {
          if ((cause as { code?: unknown }).code === 'INSUFFICIENT_FUNDS') {
            throw fail('UNAVAILABLE', `the funder account cannot pay for ${address}'s gas on ${chain.where}`, { backend: 'ens', cause })
          }
          throw cause
        })
        if (receipt?.status !== 1) throw fail('UNAVAILABLE', `funding ${address} failed on ${chain.where}`, { backend: 'ens' })
        known.set(address, balance + topUpWei)
      })
    },

    spent (address, receipt) {
      const estimate = known.get(address)
      if (estimate !== undefined) known.set(address, estimate - receipt.gasUsed * receipt.gasPrice)
    },

    forget (address) {
      known.delete(address)
    }
  }
}
