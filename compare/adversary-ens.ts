import { Contract, Interface, JsonRpcProvider, Wallet, ZeroAddress, namehash, type Provider } from 'ethers'
import { ensAccountOf } from '../adapters/ns/ens.js'
import { decodeContenthash, encodeContenthash } from '../adapters/ns/ens-contracts.js'
import type { HeadRecord, OwnerKey } from '../core/name-system.js'
import type { NsAdversary } from './adversary.js'
import type { BackendAnswer } from './metrics.js'

export interface EnsAdversaryOptions {
  /** The chain's JSON-RPC URL. */
  rpcUrl: string
  /** The ENS registry (the name's resolver is read from it). */
  registry: string
  /** A funded account that does not own the name. */
  attackerKey: string
  /** `<label>.eth` */
  name: string
}

const RESOLVER = new Interface([
  'function setContenthash(bytes32 node, bytes hash)',
  'function contenthash(bytes32 node) view returns (bytes)'
])
const REGISTRY = ['function resolver(bytes32 node) view returns (address)']
/** Enough for setContenthash; fixed so nothing estimates (and refuses) before the chain sees the transaction. */
const GAS_LIMIT = 300_000n

/** The hash of a transaction a node refused to return normally (Hardhat reports a mined revert as an error carrying it). */
function txHashOf (e: unknown): string | undefined {
  const seen = new Set<unknown>()
  const walk = (v: unknown): string | undefined => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return undefined
    seen.add(v)
    const hash = (v as { txHash?: unknown, hash?: unknown }).txHash ?? (v as { receipt?: { hash?: unknown } }).receipt?.hash
    if (typeof hash === 'string' && /^0x[0-9a-f]{64}$/i.test(hash)) return hash
    for (const key of ['error', 'data', 'info', 'receipt']) {
      const found = walk((v as Record<string, unknown>)[key])
      if (found !== undefined) return found
    }
    return undefined
  }
  return walk(e)
}

function messageOf (e: unknown): string {
  const inner = (e as { info?: { error?: { message?: unknown } }, error?: { message?: unknown }, shortMessage?: unknown, message?: unknown })
  const text = inner.info?.error?.message ?? inner.error?.message ?? inner.shortMessage ?? inner.message
  return typeof text === 'string' ? text.replace(/^Error: /, '') : String(e)
}

/**
 * The raw attacker of ENS: signed transactions sent straight to the name's resolver contract with
 * ethers (no ENS helpers, no gas estimate, no owner pre-check), so the chain itself decides:
 * another funded account's `setContenthash` for the victim's node, and the owner's own
 * `setContenthash` back to an older head. The revert reason comes from replaying the call.
 * @example const mallory = ensAdversary({ rpcUrl, registry, attackerKey, name: 'alice.eth' })
 */
export function ensAdversary (options: EnsAdversaryOptions): NsAdversary {
  // No request cache: a nonce read twice within a moment must see the transaction in between.
  const provider: Provider = new JsonRpcProvider(options.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 })
  const node = namehash(options.name)
  let before: string | undefined

  async function resolver (): Promise<string> {
    const address = await new Contract(options.registry, REGISTRY, provider).resolver(node) as string
    if (address === ZeroAddress) throw new Error(`${options.name} has no resolver`)
    return address
  }

  async function contenthash (): Promise<string> {
    return await new Contract(await resolver(), RESOLVER, provider).contenthash(node) as string
  }

  async function setContenthash (wallet: Wallet, hex: string, what: string): Promise<BackendAnswer> {
    const to = await resolver()
    const data = RESOLVER.encodeFunctionData('setContenthash', [node, hex])
    before = await contenthash()
    let hash: string | undefined
    let sendError: unknown
    try {
      const tx = await wallet.sendTransaction({ to, data, gasLimit: GAS_LIMIT })
      hash = tx.hash
      await tx.wait(1).catch((e: unknown) => { sendError = e })
    } catch (e) {
      sendError = e
      hash = txHashOf(e)
    }
    const receipt = hash !== undefined ? await provider.getTransactionReceipt(hash) : null
    const status = receipt?.status ?? undefined
    const from = `${what} from ${wallet.address}`
    if (status === 1) {
      return { accepted: true, txHash: hash, txStatus: 1, summary: `${from}: transaction ${hash!} mined in block ${receipt!.blockNumber}, status 1 (applied)` }
    }
    // Mined and reverted (or refused outright): the chain's reason, replayed as a call where it was sent.
    let revertReason: string | undefined
    try {
      await provider.call({ from: wallet.address, to, data, blockTag: receipt !== null ? receipt.blockNumber - 1 : 'latest' })
    } catch (e) {
      revertReason = messageOf(e)
    }
    revertReason ??= sendError !== undefined ? messageOf(sendError) : undefined
    return {
      accepted: false,
      txHash: hash,
      txStatus: status,
      revertReason,
      summary: receipt !== null
        ? `${from}: transaction ${hash!} mined in block ${receipt.blockNumber} and reverted (status 0): ${revertReason ?? 'no reason given'}`
        : `${from}: the node refused the transaction: ${revertReason ?? messageOf(sendError)}`
    }
  }

  return {
    backend: 'ens',

    async remember () {},

    async foreignWrite (forged: HeadRecord) {
      const mallory = new Wallet(options.attackerKey, provider)
      return await setContenthash(mallory, encodeContenthash(forged.head), `setContenthash(${options.name}) to a forged head, sent to the resolver`)
    },

    async rollback (older: HeadRecord, owner: OwnerKey) {
      return await setContenthash(ensAccountOf(owner).connect(provider), encodeContenthash(older.head), `the owner's setContenthash(${options.name}) back to its first head`)
    },

    async head () {
      const hex = await contenthash()
      return hex === '0x' ? undefined : decodeContenthash(hex).toString()
    },

    async restore (owner: OwnerKey) {
      if (before === undefined || before === '0x' || before === await contenthash()) return
      const answer = await setContenthash(ensAccountOf(owner).connect(provider), before, 'restore')
      if (!answer.accepted) throw new Error(`restoring ${options.name}: ${answer.summary}`)
    },

    async close () {
      provider.destroy()
    }
  }
}
