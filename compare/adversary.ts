import { join } from 'node:path'
import type { HeadRecord, OwnerKey } from '../core/name-system.js'
import type { DevnetSettings } from '../devnet/settings.js'
import type { BackendAnswer } from './metrics.js'

/**
 * A raw attacker on one name system. It talks to the backend with the backend's own files, wire
 * protocol or SDK — never through remotelog's client (`adapters/ns/*`), whose checks would refuse
 * before anything reached the backend — so what it shows is what the backend itself enforces.
 * Pages it needs are put in the CAS by the caller.
 */
export interface NsAdversary {
  readonly backend: string
  /** Keeps what a later replay needs (the owner's record as the backend holds it now). Called after the first publish. */
  remember (): Promise<void>
  /** Another key moves the name to `forged` (a head that continues the log with a forged entry). */
  foreignWrite (forged: HeadRecord): Promise<BackendAnswer>
  /** The owner puts an older head back (`older`, the log's first), straight at the backend. */
  rollback (older: HeadRecord, owner: OwnerKey): Promise<BackendAnswer>
  /** The head the backend holds now, read raw (no signature, owner or rollback check); undefined if none. */
  head (): Promise<string | undefined>
  /** Puts back (raw, as an operator would) what the backend held before the last attack it accepted. */
  restore (owner: OwnerKey): Promise<void>
  /** The attack is over (its readers were checked): stops what it left running and says what it saw, e.g. peers that reached a foreign core. */
  finish? (): Promise<string[]>
  close (): Promise<void>
}

/** Where the attacked log lives. */
export interface AdversaryTarget {
  /** The log's name in its name system (the part of the address after the scheme). */
  name: string
  devnet: DevnetSettings
  /** The writer's state dir (its Hypercore storage is `<writerDir>/hypercore`). */
  writerDir: string
  /** Upper bound on one network wait. Default 10 s. */
  timeoutMs?: number
}

/** Name systems a raw adversary exists for. */
export const ADVERSARY_BACKENDS = ['local', 'twirp', 'ens', 'hypercore', 'dns', 'ipns'] as const

/**
 * The raw adversary of a name system on a devnet, or undefined when there is none for it yet
 * (compare then reports the attack guarantees as `not measured`). Each backend's attacker is
 * loaded only when asked for, like the adapters.
 * @example const adversary = await adversaryFor('twirp', { name, devnet, writerDir })
 */
export async function adversaryFor (ns: string, target: AdversaryTarget): Promise<NsAdversary | undefined> {
  const { name, devnet } = target
  const timeoutMs = target.timeoutMs ?? 10_000
  switch (ns) {
    case 'local': {
      const { localAdversary } = await import('./adversary-local.js')
      return localAdversary({ names: devnet.local.names, name })
    }
    case 'twirp': {
      const { twirpAdversary } = await import('./adversary-twirp.js')
      return twirpAdversary({ url: devnet.service.url, name, timeoutMs })
    }
    case 'ens': {
      const { ensAdversary } = await import('./adversary-ens.js')
      // Hardhat funds several accounts; the first pays owners' gas, the second attacks.
      const attacker = devnet.ethereum.accounts[1] ?? devnet.ethereum.accounts[0]
      return ensAdversary({ rpcUrl: devnet.ethereum.rpcUrl, registry: devnet.ethereum.ens.registry, attackerKey: attacker.privateKey, name })
    }
    case 'hypercore': {
      const { hypercoreAdversary } = await import('./adversary-hypercore.js')
      return hypercoreAdversary({ bootstrap: devnet.hypercore.bootstrap, writerStorage: join(target.writerDir, 'hypercore'), name, timeoutMs })
    }
    case 'dns': {
      if (devnet.dns === undefined) return undefined
      const { dnsAdversary } = await import('./adversary-dns.js')
      // Eve holds the zone's TSIG key (a leaked key, a compromised operator): the server takes her updates.
      return dnsAdversary({ server: devnet.dns.server, zone: devnet.dns.zone, tsig: devnet.dns.tsig, name, timeoutMs })
    }
    case 'ipns': {
      if (devnet.ipns === undefined) return undefined
      const { ipnsAdversary } = await import('./adversary-ipns.js')
      // Records sent straight to the routing's HTTP API, as any peer that saw them could.
      return ipnsAdversary({ routingUrl: devnet.ipns.routingUrl, name, timeoutMs })
    }
    default:
      return undefined
  }
}
