/**
 * remotelog: a remote log for data sync. Messages go to a content-addressed store (CAS), pages of
 * the log live there too, and a name system (NS) points at the newest page; a follower resolves the
 * name and fetches only what is new.
 *
 * This entry holds the core and the backends that need no extra packages (memory, local). Each
 * other backend has its own entry (`remotelog/cas/helia`, `remotelog/ns/ens`, …), and its SDK is an
 * optional peer dependency the user installs (see the README).
 * @example
 * import { openEndpoint } from 'remotelog'
 * const alice = await openEndpoint({ dir: '/tmp/alice' })
 * await alice.append(['hello'])
 * await alice.publish()
 * @packageDocumentation
 */
import './core/node-compat.js'

export { Endpoint, type EndpointOptions, type SyncReport, type SyncOptions, type ScrubEvent, type LogStatus } from './core/endpoint.js'
export type { WatchOptions, WatchMessagesOptions, RetryEvent } from './core/live-follow.js'
export type { SyncResult, SyncFailure } from './core/sync-each.js'
export { LogWriter, type AppendInput, type PublishResult, type WriterOptions } from './core/writer.js'
export { LogReader, type Cursor, type Message, type ReaderOptions, type SyncOutcome } from './core/reader.js'
export { memoryWriterStorage, fileWriterStorage, type WriterStorage, type WriterState } from './core/writer-storage.js'
export type { StoredEntry } from './core/entry-file.js'
export type { Durability } from './core/durable-file.js'
export type { ContentStore, CallOptions, CasCapabilities, LogHeads } from './core/content-store.js'
export type { NameSystem, NsCapabilities, OwnerKey, HeadRecord, ResolvedHead, PublishOptions, PublishReceipt, WatchHeadsOptions } from './core/name-system.js'
export { RemoteLogError, ErrorCodes, isRemoteLogError, fail, type ErrorCode, type ErrorOptions } from './core/errors.js'
export { defaultLogOptions, logOptions, type LogOptions, type LogMode } from './core/log-options.js'
export { formatAddress, parseAddress, type LogAddress } from './core/address.js'
export { cidOf, toCid, sha256, MAX_OBJECT_BYTES } from './core/ids.js'
export { mvdsId } from './core/mvds.js'
export { exportPack, type ExportPackOptions, type ExportSummary } from './core/pack-export.js'
export { importPack, type ImportPackOptions, type ImportSummary } from './core/pack-import.js'
export { verifyPack, type VerifyPackOptions, type PackProgress } from './core/pack-verify.js'
export { restoreHead, type RestoreHeadOptions, type RestoreResult } from './core/pack-restore.js'
export type { PackSummary } from './core/pack-check.js'
export { scrub, type ScrubOptions, type ScrubResult } from './core/scrub.js'
export { memoryScrubJournal, fileScrubJournal, type ScrubJournal, type ScrubRecord } from './core/scrub-journal.js'
export { fsck, type FsckReport, type FsckOptions, type FsckTarget, type Problem } from './core/fsck.js'
export { openEndpoint, type OpenEndpointOptions } from './config/open-endpoint.js'
export { defaultConfig, defaultStateDir, defaultStoreDir, configPath, checkConfig, loadConfig, saveConfig, type Config } from './config/config.js'
export { openCas, openNs, type BackendConfig, type BackendContext } from './adapters/registry.js'
export { memoryCas, type MemoryContentStore } from './adapters/cas/memory.js'
export { localCas, type LocalCasOptions } from './adapters/cas/local.js'
export { memoryNs } from './adapters/ns/memory.js'
export { localNs, type LocalNsOptions } from './adapters/ns/local.js'
export type { RecordNameSystem } from './adapters/ns/record-ns.js'
