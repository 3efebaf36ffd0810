import { Contract, Interface, Wallet, ZeroAddress, concat, getAddress, isAddress, keccak256, toUtf8Bytes, type TransactionReceipt, type TransactionRequest } from 'ethers'
import type { CID } from 'multiformats/cid'
import type { CallOptions } from '../../core/content-store.js'
import { fail, isRemoteLogError } from '../../core/errors.js'
import { toCid } from '../../core/ids.js'
import { Mutex } from '../../core/mutex.js'
import type { HeadRecord, NameSystem, OwnerKey, PublishOptions, PublishReceipt, ResolvedHead, WatchHeadsOptions } from '../../core/name-system.js'
import type { BackendContext } from '../registry.js'
import { blockFeed } from './ens-blocks.js'
import { connectChain, type Chain, type ChainOptions } from './ens-chain.js'
import { REGISTRAR_ABI, REGISTRY_ABI, RESOLVER_ABI, decodeContenthash, encodeContenthash, ensNameOfLabel, parseEnsName, type EnsName } from './ens-contracts.js'
import { gasTank, type GasTank } from './ens-gas.js'
import { prepareTx, transact, type TxCall } from './ens-tx.js'
import { pushWatch } from './head-watch.js'

const backend = 'ens'
const REGISTRY = new Interface(REGISTRY_ABI)
const RESOLVER = new Interface(RESOLVER_ABI)
const REGISTRAR = new Interface(REGISTRAR_ABI)

/** Where ENS lives on the chain (what `deployEns` returns) and how to reach the chain. */
export interface EnsNsOptions extends ChainOptions {
  /** ENSRegistry address. */
  registry: string
  /** PublicResolver that newly claimed names are pointed at. */
  resolver: string
  /** FIFSRegistrar that owns `eth`. */
  registrar: string
  /** Blocks a publish waits for (its receipt's block included). Default 1. */
  confirmations?: number
  /**
   * `watch` reads the contenthash on every new block, which it hears of by `eth_subscribe('newHeads')`
   * (over the EIP-1193 provider's events, or a WebSocket: see `wsUrl`). Where no subscription is to
   * be had it polls every `pollMs` instead, and while subscribed it still re-reads every `pollMs`
   * in case a notification was lost. Default 500 ms.
   */
  pollMs?: number
  /**
   * WebSocket JSON-RPC endpoint for the new-block subscription. Default: the `rpcUrl` with ws(s)://
   * (Hardhat, Anvil and Geth serve both on one port); `false`: never subscribe, poll.
   */
  wsUrl?: string | false
}

/** What an ENS publish reports: the gas it used and its transaction (none when the name already held the head). */
export interface EnsPublishReceipt extends PublishReceipt {
  gasUsed: number
  txHash: string | null
  blockNumber?: number
}

/**
 * The Ethereum account an owner's secret controls on ENS: the secp256k1 key
 * keccak256("remotelog/ens/v1" ‖ secret), so the secret's ed25519 use by other backends stays apart.
 * @example ensAccountOf(owner).address // '0x…'
 */
export function ensAccountOf (owner: OwnerKey): Wallet {
  if (!(owner.secret instanceof Uint8Array) || owner.secret.byteLength !== 32) throw fail('INVALID_INPUT', 'an owner secret is 32 bytes', { backend })
  return new Wallet(keccak256(concat([toUtf8Bytes('remotelog/ens/v1'), owner.secret])))
}

function checkAddress (options: EnsNsOptions, key: 'registry' | 'resolver' | 'registrar'): string {
  const value = options[key]
  if (typeof value !== 'string' || !isAddress(value)) throw fail('INVALID_CONFIG', `ens ${key} must be a contract address, got ${JSON.stringify(value)}`, { backend })
  return getAddress(value)
}

const isRevert = (e: unknown): boolean => (e as { code?: unknown }).code === 'CALL_EXCEPTION'

/** Lets remotelog errors through; anything else (an unexpected node answer) becomes UNAVAILABLE. */
function wrap (what: string, e: unknown, where: string): never {
  if (isRemoteLogError(e)) throw e
  throw fail('UNAVAILABLE', `${what} failed on ${where}`, { backend, cause: e })
}

interface Connected {
  chain: Chain
  registry: Contract
  tank: GasTank
}

/**
 * ENS name system (SPEC §5): a log's name is `<label>.eth` (address `ens:alice.eth`) and its value is
 * the head page's CID in the name's EIP-1577 contenthash (`ipfs-ns`), readable by any ENS client.
 * Publishing is `setContenthash` by the name's on-chain owner (the account `ensAccountOf(owner)`),
 * checked before any gas is spent; resolving reads registry → resolver → contenthash directly.
 * The chain is contacted on first use; every call is bounded by `timeoutMs`.
 * @example
 * const ns = await ensNs({ rpcUrl: 'http://127.0.0.1:8545', ...await deployEns({ rpcUrl }) })
 * const name = await ns.nameOf({ label: 'alice', secret })   // claims alice.eth on first use
 * const receipt = await ns.publish(name, { head, length: 10, revision: 1 }, owner) // { gasUsed, txHash }
 * const { head } = await ns.resolve('alice.eth')
 */
export async function ensNs (options: EnsNsOptions, _context?: BackendContext): Promise<NameSystem> {
  const addresses = {
    registry: checkAddress(options, 'registry'),
    resolver: checkAddress(options, 'resolver'),
    registrar: checkAddress(options, 'registrar')
  }
  const confirmations = options.confirmations ?? 1
  if (!Number.isInteger(confirmations) || confirmations < 1) throw fail('INVALID_CONFIG', `ens confirmations must be an integer ≥ 1, got ${String(options.confirmations)}`, { backend })
  // One write at a time per client: a publish's check-then-send, and each account's nonces, stay in order.
  const writes = new Mutex()
  const names = new Map<string, string>()
  let connecting: Promise<Connected> | undefined
  let closed = false
  const blocks = blockFeed(options, async () => (await connect()).chain)

  async function connect (callOptions?: CallOptions): Promise<Connected> {
    if (closed) throw fail('UNAVAILABLE', 'this ens name system is closed', { backend })
    connecting ??= (async () => {
      const chain = await connectChain(options)
      try {
        const code = await chain.bounded('eth_getCode', async () => await chain.provider.getCode(addresses.registry))
        if (code === '0x') throw fail('INVALID_CONFIG', `no ENS registry at ${addresses.registry} on ${chain.where} (is ENS deployed there?)`, { backend })
      } catch (e) {
        chain.close()
        throw e
      }
      return { chain, registry: new Contract(addresses.registry, REGISTRY_ABI, chain.provider), tank: gasTank(chain) }
    })()
    const pending = connecting
    pending.catch(() => { if (connecting === pending) connecting = undefined })
    const connected = await pending
    if (callOptions?.signal?.aborted === true) throw fail('ABORTED', 'ens call aborted', { backend, cause: callOptions.signal.reason })
    return connected
  }

  async function ownerOf (c: Connected, ens: EnsName, callOptions?: CallOptions): Promise<string> {
    return await c.chain.bounded(`owner of ${ens.name}`, async () => await c.registry.owner(ens.node) as string, callOptions)
  }

  async function resolverOf (c: Connected, ens: EnsName, callOptions?: CallOptions): Promise<string> {
    return await c.chain.bounded(`resolver of ${ens.name}`, async () => await c.registry.resolver(ens.node) as string, callOptions)
  }

  /** The name's contenthash at `resolver` as a CID; undefined when it holds none. */
  async function contenthashOf (c: Connected, ens: EnsName, resolver: string, callOptions?: CallOptions): Promise<CID | undefined> {
    const contract = new Contract(resolver, RESOLVER_ABI, c.chain.provider)
    const hex = await c.chain.bounded(`contenthash of ${ens.name}`, async () => await contract.contenthash(ens.node) as string, callOptions)
      .catch((cause: unknown) => {
        const code = (cause as { code?: unknown }).code
        if (code === 'BAD_DATA' || code === 'CALL_EXCEPTION') {
          throw fail('MALFORMED', `the resolver of ${ens.name} (${resolver}) does not answer contenthash()`, { backend, cause })
        }
        throw cause
      })
    return hex === '0x' ? undefined : decodeContenthash(hex)
  }

  async function send (c: Connected, wallet: Wallet, call: TxCall, callOptions?: CallOptions, prepared?: TransactionRequest): Promise<TransactionReceipt> {
    return await transact(c.chain, c.tank, wallet, call, confirmations, callOptions, prepared)
  }

  function setResolverCall (ens: EnsName): TxCall {
    return { to: addresses.registry, data: REGISTRY.encodeFunctionData('setResolver', [ens.node, addresses.resolver]) }
  }

  /** Claims `ens` for `wallet` on the registrar (first come, first served) and sets its resolver. */
  async function claim (c: Connected, ens: EnsName, wallet: Wallet, callOptions?: CallOptions): Promise<void> {
    let current = await ownerOf(c, ens, callOptions)
    if (current === ZeroAddress) {
      const register = { to: addresses.registrar, data: REGISTRAR.encodeFunctionData('register', [ens.labelHash, wallet.address]) }
      await send(c, wallet, register, callOptions).catch(async (e: unknown) => {
        // Someone registered it between our check and our transaction: the registrar refuses.
        if (!isRevert(e)) throw e
        current = await ownerOf(c, ens, callOptions)
      })
      if (current !== ZeroAddress && current !== wallet.address) throw fail('PERMISSION', `${ens.name} was just claimed by ${current}`, { backend })
      await send(c, wallet, setResolverCall(ens), callOptions)
    } else if (current !== wallet.address) {
      throw fail('PERMISSION', `${ens.name} is owned by ${current}, not by this key's account ${wallet.address}`, { backend })
    } else if (await resolverOf(c, ens, callOptions) === ZeroAddress) {
      await send(c, wallet, setResolverCall(ens), callOptions)
    }
  }

  /**
   * Moves `ens` to `head`. The checks (owner, resolver, current contenthash) and the transaction's
   * preparation (gas estimate, nonce, fees) go out side by side; nothing is paid or sent before
   * the checks pass.
   */
  async function setHead (c: Connected, ens: EnsName, head: CID, wallet: Wallet, publishOptions: PublishOptions): Promise<EnsPublishReceipt> {
    const call = { to: addresses.resolver, data: RESOLVER.encodeFunctionData('setContenthash', [ens.node, encodeContenthash(head)]) }
    const preparing = prepareTx(c.chain, wallet.address, call, publishOptions)
    preparing.catch(() => {})
    const [owner, resolver, configured] = await Promise.all([
      ownerOf(c, ens, publishOptions),
      resolverOf(c, ens, publishOptions),
      contenthashOf(c, ens, addresses.resolver, publishOptions)
    ])
    if (owner !== wallet.address) {
      throw fail('PERMISSION', `${ens.name} is owned by ${owner === ZeroAddress ? 'nobody' : owner}, not by this key's account ${wallet.address}`, { backend })
    }
    let onChain = configured
    let prepared: Promise<TransactionRequest> | undefined = preparing
    if (resolver === ZeroAddress) {
      await send(c, wallet, setResolverCall(ens), publishOptions)
      prepared = undefined // its nonce is spent
    } else if (resolver !== addresses.resolver) {
      call.to = resolver
      onChain = await contenthashOf(c, ens, resolver, publishOptions)
      prepared = undefined
    }
    if (onChain?.equals(head) === true) return { gasUsed: 0, txHash: null, unchanged: true }
    const previous = publishOptions.previous
    if (previous === undefined ? onChain !== undefined : onChain?.equals(previous) !== true) {
      throw fail('CONFLICT', `${ens.name} points at ${onChain?.toString() ?? 'nothing'}, not at this writer's last head ${previous?.toString() ?? '(none: a first publish)'} (another publish moved it)`, { backend })
    }
    const refused = async (e: unknown): Promise<never> => {
      if (!isRevert(e)) throw e
      const now = await ownerOf(c, ens, publishOptions)
      throw fail('PERMISSION', now === wallet.address
        ? `the resolver of ${ens.name} (${call.to}) refused setContenthash from its owner ${wallet.address}`
        : `${ens.name} moved to ${now} while publishing`, { backend, cause: e })
    }
    // A preparation that failed for want of funds is redone after the top-up; a revert is final.
    const ready = await prepared?.catch(async (e: unknown) => (e as { code?: unknown }).code === 'INSUFFICIENT_FUNDS' ? undefined : await refused(e))
    const receipt = await send(c, wallet, call, publishOptions, ready).catch(refused)
    return { gasUsed: Number(receipt.gasUsed), txHash: receipt.hash, blockNumber: receipt.blockNumber }
  }

  async function resolve (name: string, callOptions?: CallOptions): Promise<ResolvedHead> {
    const ens = parseEnsName(name)
    const c = await connect(callOptions)
    try {
      // One round trip in the usual case: the configured resolver's contenthash is read alongside
      // the registry's answer, and used only when the registry names that resolver.
      const configured = contenthashOf(c, ens, addresses.resolver, callOptions)
      configured.catch(() => {})
      const resolver = await resolverOf(c, ens, callOptions)
      if (resolver === ZeroAddress) throw fail('NOT_FOUND', `${ens.name} has no resolver`, { backend })
      const head = resolver === addresses.resolver ? await configured : await contenthashOf(c, ens, resolver, callOptions)
      if (head === undefined) throw fail('NOT_FOUND', `${ens.name} has no contenthash`, { backend })
      return { head }
    } catch (e) {
      wrap(`resolving ${ens.name}`, e, c.chain.where)
    }
  }

  return {
    backend,
    scheme: 'ens',
    capabilities: { watch: true, records: false },
    resolve,

    async nameOf (owner: OwnerKey, callOptions?: CallOptions): Promise<string> {
      const ens = ensNameOfLabel(owner.label)
      const wallet = ensAccountOf(owner)
      const key = `${ens.name}/${wallet.address}`
      if (names.has(key)) return ens.name
      const c = await connect(callOptions)
      await writes.run(async () => {
        try {
          await claim(c, ens, wallet, callOptions)
        } catch (e) {
          wrap(`claiming ${ens.name}`, e, c.chain.where)
        }
      })
      names.set(key, ens.name)
      return ens.name
    },

    async publish (name: string, record: HeadRecord, owner: OwnerKey, publishOptions: PublishOptions = {}): Promise<EnsPublishReceipt> {
      const ens = parseEnsName(name)
      const head = toCid(record.head)
      const wallet = ensAccountOf(owner)
      const c = await connect(publishOptions)
      return await writes.run(async () => {
        try {
          return await setHead(c, ens, head, wallet, publishOptions)
        } catch (e) {
          wrap(`publishing ${ens.name}`, e, c.chain.where)
        }
      })
    },

    /**
     * Yields the name's head on every change: re-read on each new block the chain announces (so a
     * publish is seen one block time plus a round trip after it is mined), and at least every
     * `pollMs` (the only way where the node offers no subscription).
     */
    async * watch (name: string, watchOptions: WatchHeadsOptions): AsyncIterable<ResolvedHead> {
      parseEnsName(name)
      const signal = watchOptions.signal
      yield * pushWatch({
        signal,
        pollMs: watchOptions.pollMs ?? options.pollMs ?? 500,
        arm: async (wake, broken) => await blocks.subscribe(wake, broken),
        check: async () => {
          try {
            return await resolve(name, { signal })
          } catch (e) {
            if (isRemoteLogError(e, 'NOT_FOUND') || (isRemoteLogError(e, 'ABORTED') && signal?.aborted === true)) return undefined
            throw e
          }
        }
      })
    },

    async close () {
      closed = true
      blocks.close()
      const pending = connecting
      connecting = undefined
      await writes.run(async () => {})
      const c = await pending?.catch(() => undefined)
      c?.chain.close()
    }
  }
}
