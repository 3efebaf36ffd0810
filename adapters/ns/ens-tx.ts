import type { TransactionReceipt, TransactionRequest, Wallet } from 'ethers'
import type { CallOptions } from '../../core/content-store.js'
import { fail } from '../../core/errors.js'
import type { Chain } from './ens-chain.js'
import type { GasTank } from './ens-gas.js'

/** A contract call to send: target and ABI-encoded calldata. */
export interface TxCall {
  to: string
  data: string
}

/**
 * Fills a transaction's gas limit, nonce and fees with the three requests in parallel (ethers'
 * `populateTransaction` makes them one after another). A call that would revert fails here, with
 * ethers' CALL_EXCEPTION, before anything is sent or paid.
 */
export async function prepareTx (chain: Chain, from: string, call: TxCall, options?: CallOptions): Promise<TransactionRequest> {
  return await chain.bounded(`preparing a transaction to ${call.to}`, async () => {
    const [gas, nonce, fees, network] = await Promise.all([
      chain.provider.estimateGas({ from, ...call }),
      chain.provider.getTransactionCount(from, 'pending'),
      chain.provider.getFeeData(),
      chain.provider.getNetwork()
    ])
    // 10% headroom: the estimate is exact for the state it ran on, and that may move before mining.
    const request: TransactionRequest = { ...call, from, nonce, gasLimit: gas * 11n / 10n, chainId: network.chainId }
    if (fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
      return { ...request, type: 2, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas }
    }
    return { ...request, gasPrice: fees.gasPrice }
  }, options)
}

/** Signs and sends a prepared transaction and waits for its receipt (`confirmations` blocks). */
export async function sendTx (chain: Chain, wallet: Wallet, request: TransactionRequest, confirmations: number, options?: CallOptions): Promise<TransactionReceipt> {
  return await chain.bounded(`sending a transaction to ${String(request.to)}`, async () => {
    const tx = await wallet.connect(chain.provider).sendTransaction(request)
    const receipt = await tx.wait(confirmations, chain.timeoutMs)
    if (receipt === null) throw fail('TIMEOUT', `no receipt for ${tx.hash}`, { backend: 'ens' })
    return receipt
  }, options)
}

function isInsufficientFunds (e: unknown): boolean {
  return (e as { code?: unknown }).code === 'INSUFFICIENT_FUNDS'
}

/**
 * Sends `call` from `wallet`: tops the account up if needed, prepares, sends, books the cost.
 * `prepared` is a preparation already under way (publish starts it alongside its checks). An
 * "insufficient funds" answer — the local balance estimate was wrong — is retried once after a top-up.
 */
export async function transact (chain: Chain, tank: GasTank, wallet: Wallet, call: TxCall, confirmations: number, options?: CallOptions, prepared?: TransactionRequest): Promise<TransactionReceipt> {
  await tank.ensure(wallet.address, options)
  let receipt: TransactionReceipt
  try {
    receipt = await sendTx(chain, wallet, prepared ?? await prepareTx(chain, wallet.address, call, options), confirmations, options)
  } catch (e) {
    if (!isInsufficientFunds(e)) throw e
    tank.forget(wallet.address)
    await tank.ensure(wallet.address, options)
    receipt = await sendTx(chain, wallet, await prepareTx(chain, wallet.address, call, options), confirmations, options)
  }
  tank.spent(wallet.address, receipt)
  return receipt
}
