import { BrowserProvider, FetchRequest, JsonRpcProvider, Network, Wallet, type Eip1193Provider, type JsonRpcApiProvider, type Signer } from 'ethers'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'

const backend = 'ens'

/** How to reach the chain: an RPC URL, or (tests, in-process Hardhat) an EIP-1193 provider. */
export interface ChainOptions {
  /** JSON-RPC endpoint, e.g. `http://127.0.0.1:8545`. */
  rpcUrl?: string
  /** An EIP-1193 provider, e.g. Hardhat's in-process `hre.network.provider`. Used when no `rpcUrl`. */
  provider?: Eip1193Provider
  /** Bound on every chain operation (a call, or a transaction up to its receipt). Default 30 s. */
  timeoutMs?: number
  /**
   * Private key of the account that pays for gas when an owner's account runs low. Without it, the
   * node's first unlocked account pays (Hardhat's accounts, in-process or `hardhat node`).
   */
  funderKey?: string
}

/** A connected chain: one ethers provider plus the bounds and error mapping every call goes through. */
export interface Chain {
  readonly provider: JsonRpcApiProvider
  /** The RPC URL, or a description of the EIP-1193 provider; named in every error. */
  readonly where: string
  readonly timeoutMs: number
  /** Runs `work` within the timeout and `options.signal`; transport failures become UNAVAILABLE / TIMEOUT. */
  bounded: <T>(what: string, work: () => Promise<T>, options?: CallOptions) => Promise<T>
  /** The account that pays for gas. */
  funder: () => Promise<Signer>
  close: () => void
}

export const DEFAULT_TIMEOUT_MS = 30_000

// Error codes of Node's sockets and of ethers' fetch layer that mean "the node is not answering".
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'UND_ERR_SOCKET', 'SERVER_ERROR', 'NETWORK_ERROR'])

/** True when `e` says the chain could not be reached (as opposed to the chain refusing a call). */
export function isUnreachable (e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && UNREACHABLE.has(code)
}

/**
 * Races `work` against a timeout and an abort signal. The underlying request may still finish in
 * the background; its result is then ignored.
 */
async function race<T> (work: Promise<T>, what: string, where: string, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted === true) throw fail('ABORTED', `${what} aborted`, { backend, cause: signal.reason })
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(fail('TIMEOUT', `${what} took longer than ${timeoutMs} ms (${where})`, { backend })), timeoutMs)
    onAbort = () => reject(fail('ABORTED', `${what} aborted`, { backend, cause: signal?.reason }))
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, bound])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Connects to the chain: asks its chain id once (bounded), then builds an ethers provider pinned to
 * that network — so ethers neither retries a dead node forever nor re-asks the chain id on every
 * call — with request batching off (`batchMaxCount: 1`), whose 10 ms batching delay made each
 * call ~3.5× slower, and ethers' request cache off (`cacheTimeout: -1`): by default it answers an
 * identical request made within 250 ms from the previous answer, so a resolve right after a
 * publish saw the old contenthash and a second transaction reused the first one's nonce.
 * An unreachable node fails with UNAVAILABLE naming the RPC URL.
 * @example const chain = await connectChain({ rpcUrl: 'http://127.0.0.1:8545' })
 */
export async function connectChain (options: ChainOptions): Promise<Chain> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw fail('INVALID_CONFIG', `timeoutMs must be a positive number, got ${String(options.timeoutMs)}`, { backend })
  const { rpcUrl } = options
  if (rpcUrl === undefined && options.provider === undefined) throw fail('INVALID_CONFIG', 'ens needs an rpcUrl (or an EIP-1193 provider)', { backend })
  if (rpcUrl !== undefined && (typeof rpcUrl !== 'string' || !/^https?:\/\//.test(rpcUrl))) {
    throw fail('INVALID_CONFIG', `ens rpcUrl must be an http(s) URL, got ${JSON.stringify(rpcUrl)}`, { backend })
  }
  const where = rpcUrl ?? 'in-process EIP-1193 provider'

  async function bounded<T> (what: string, work: () => Promise<T>, callOptions?: CallOptions): Promise<T> {
    try {
      return await race(work(), what, where, timeoutMs, callOptions?.signal)
    } catch (e) {
      if (isRemoteLogError(e)) throw e
      if ((e as { code?: unknown }).code === 'TIMEOUT') throw fail('TIMEOUT', `${what} timed out (${where})`, { backend, cause: e })
      if (isUnreachable(e)) throw fail('UNAVAILABLE', `${what}: chain unreachable at ${where}`, { backend, cause: e, details: { rpcUrl: where } })
      throw e
    }
  }

  let provider: JsonRpcApiProvider
  if (rpcUrl !== undefined) {
    const request = new FetchRequest(rpcUrl)
    request.timeout = timeoutMs
    const chainId = await bounded('eth_chainId', async () => {
      const probe = request.clone()
      probe.body = { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }
      const response = await probe.send()
      response.assertOk()
      const result = (response.bodyJson as { result?: unknown }).result
      if (typeof result !== 'string') throw fail('UNAVAILABLE', `${rpcUrl} did not answer eth_chainId`, { backend, details: { rpcUrl } })
      return BigInt(result)
    })
    const network = Network.from(chainId)
    provider = new JsonRpcProvider(request, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 })
  } else {
    const eip1193 = options.provider!
    const chainId = await bounded('eth_chainId', async () => BigInt(await eip1193.request({ method: 'eth_chainId' }) as string))
    const network = Network.from(chainId)
    provider = new BrowserProvider(eip1193, network, { staticNetwork: network, cacheTimeout: -1 })
  }

  let funder: Promise<Signer> | undefined
  return {
    provider,
    where,
    timeoutMs,
    bounded,
    async funder () {
      funder ??= (async () => {
        if (options.funderKey !== undefined) {
          try {
            return new Wallet(options.funderKey, provider)
          } catch (cause) {
            throw fail('INVALID_CONFIG', 'ens funderKey is not a valid private key', { backend, cause })
          }
        }
        const accounts = await bounded('eth_accounts', async () => await provider.send('eth_accounts', []) as string[])
        if (accounts.length === 0) throw fail('INVALID_CONFIG', `no funderKey configured and ${where} has no unlocked account to pay for gas`, { backend })
        return await provider.getSigner(accounts[0])
      })()
      funder.catch(() => { funder = undefined })
      return await funder
    },
    close () {
      provider.destroy()
    }
  }
}
