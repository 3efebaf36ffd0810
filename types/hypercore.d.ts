// Ambient declarations for exactly the parts of hypercore 11, corestore 7, hyperswarm 4 and
// hyperdht 6 that remotelog uses. The packages ship no types; widen these only when code needs more.

declare module 'hypercore' {
  import type { EventEmitter } from 'node:events'

  export interface KeyPair {
    publicKey: Buffer
    /** 64 bytes: the ed25519 seed followed by the public key (libsodium layout). */
    secretKey: Buffer
  }

  export interface Manifest {
    version: number
    signers: Array<{ publicKey: Buffer }>
  }

  /** A pending request list; `clearRequests` rejects everything in it. */
  export type ActiveRequests = unknown[]

  export interface UpdateOptions {
    /** Wait for connected (or still being found) peers to answer. */
    wait?: boolean
    /** Also ask peers on a writable core (to recover its own history). */
    force?: boolean
    activeRequests?: ActiveRequests
  }

  export interface GetOptions {
    wait?: boolean
    /** Milliseconds before the request fails with REQUEST_TIMEOUT. */
    timeout?: number
    activeRequests?: ActiveRequests
  }

  export interface Download {
    destroy (): void
  }

  export default class Hypercore extends EventEmitter {
    /** The core's key: the hash of its manifest (not the signer's public key). */
    static key (manifest: Manifest): Buffer
    readonly key: Buffer
    /** z-base-32 form of `key`. */
    readonly id: string
    readonly discoveryKey: Buffer
    readonly length: number
    readonly fork: number
    readonly writable: boolean
    readonly peers: unknown[]
    ready (): Promise<void>
    close (): Promise<void>
    update (options?: UpdateOptions): Promise<boolean>
    get (index: number, options?: GetOptions): Promise<Buffer | null>
    append (block: Buffer | Buffer[]): Promise<{ length: number, byteLength: number }>
    truncate (newLength: number): Promise<void>
    /** Whether block `index` is stored locally. */
    has (index: number): Promise<boolean>
    /** Closes every session of the core and deletes it from storage. */
    purge (): Promise<void>
    /** Range of blocks to keep downloading; `end: -1` follows the core as it grows. */
    download (range?: { start?: number, end?: number }): Download
    /** Marks peer discovery in progress; `update` waits for it. Call the returned function when done. */
    findingPeers (): () => void
    clearRequests (activeRequests: ActiveRequests, error?: Error): void
    getUserData (key: string): Promise<Buffer | null>
    setUserData (key: string, value: Buffer | null): Promise<void>
    on (event: 'append' | 'close', listener: () => void): this
    on (event: 'truncate', listener: (ancestors: number, fork: number) => void): this
    on (event: 'conflict', listener: (length: number, fork: number) => void): this
    off (event: string, listener: (...args: any[]) => void): this
  }
}

declare module 'corestore' {
  import type { Duplex } from 'node:stream'
  import type Hypercore from 'hypercore'
  import type { KeyPair, Manifest } from 'hypercore'

  export interface GetOptions {
    /** Key as bytes, or as hex / z-base-32 text. */
    key?: Buffer | string
    keyPair?: KeyPair
    /** Sets the manifest of a core first opened by key alone (needed before it can be written). */
    manifest?: Manifest
    discoveryKey?: Buffer
  }

  export default class Corestore {
    constructor (storage: string)
    ready (): Promise<void>
    close (): Promise<void>
    get (options: GetOptions): Hypercore
    /** Replicates every core both sides hold over `stream` (a Hyperswarm connection). */
    replicate (stream: Duplex): Duplex
    /** Discovery keys of the cores stored here. */
    list (): AsyncIterable<Buffer>
  }
}

declare module 'hyperdht' {
  export interface HostPort {
    host: string
    port: number
  }

  export interface DhtOptions {
    /** Never defaulted by remotelog: without it hyperdht uses the public bootstrap nodes. */
    bootstrap: Array<HostPort | string>
    /** Address to bind the UDP socket to. */
    host?: string
  }

  /** Hyperswarm destroys the DHT node it was given. */
  export default class HyperDHT {
    constructor (options: DhtOptions)
  }
}

declare module 'hyperdht/testnet.js' {
  import type { HostPort } from 'hyperdht'

  export interface Testnet {
    bootstrap: HostPort[]
    destroy (): Promise<void>
  }

  export default function createTestnet (size?: number, options?: { host?: string, port?: number }): Promise<Testnet>
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'
  import type HyperDHT from 'hyperdht'

  export interface PeerDiscovery {
    /** Resolves once the topic is announced (server) or looked up (client). */
    flushed (): Promise<void>
    /** Looks the topic up (and announces it) again. */
    refresh (): Promise<void>
  }

  /** A connection to a peer: an encrypted duplex stream. */
  export type SwarmConnection = Duplex

  export default class Hyperswarm extends EventEmitter {
    constructor (options: { dht: HyperDHT })
    join (topic: Buffer, options?: { server?: boolean, client?: boolean }): PeerDiscovery
    leave (topic: Buffer): Promise<void>
    /** Resolves when every joined topic is announced and its peers connected. */
    flush (): Promise<boolean>
    destroy (): Promise<void>
    on (event: 'connection', listener: (connection: SwarmConnection) => void): this
  }
}
