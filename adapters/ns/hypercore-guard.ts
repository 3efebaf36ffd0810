import type Hypercore from 'hypercore'
import { fail } from '../../core/errors.js'
import type { ResolvedHead } from '../../core/name-system.js'

const BACKEND = 'hypercore'
const SEEN_KEY = 'remotelog/seen'
const EQUIVOCATION_KEY = 'remotelog/equivocation'
const OWN_KEY = 'remotelog/own'

/** The newest head this reader accepted from a core, kept in the core's local user data. */
export interface SeenHead {
  fork: number
  /** Block index the head was read from. */
  index: number
  revision?: number
  head: string
}

/** What a reader remembers about one core across resolves and restarts. */
export interface FeedMemory {
  seen?: SeenHead
  /** Set once Hypercore saw two conflicting signed heads for this core (it then closes the core). */
  equivocation?: { length: number, fork: number }
  /** This storage writes the core (marked on publish): its local copy is authoritative. */
  own?: boolean
}

function parse<T> (bytes: Buffer | null): T | undefined {
  if (bytes === null) return undefined
  try {
    return JSON.parse(bytes.toString('utf8')) as T
  } catch {
    return undefined
  }
}

/** Loads what this storage remembers about `core`. */
export async function loadMemory (core: Hypercore): Promise<FeedMemory> {
  const [seen, equivocation, own] = await Promise.all([core.getUserData(SEEN_KEY), core.getUserData(EQUIVOCATION_KEY), core.getUserData(OWN_KEY)])
  return { seen: parse(seen), equivocation: parse(equivocation), own: own !== null }
}

/**
 * The rollback policy: a reader never follows a core backwards. A newest head whose revision is
 * below the one this reader accepted (or equal with another head) means the owner truncated the
 * core or equivocated: CONFLICT, and the reader keeps what it had. Heads without a revision are
 * ordered by block index within one fork.
 */
export function checkForward (name: string, memory: FeedMemory, core: Hypercore, index: number, head: ResolvedHead): void {
  if (memory.equivocation !== undefined) throw equivocationError(name, memory.equivocation)
  const seen = memory.seen
  if (seen === undefined) return
  const details = { name, seen, fork: core.fork, index, revision: head.revision, head: head.head.toString() }
  const sameHead = head.head.toString() === seen.head
  if (head.revision !== undefined && seen.revision !== undefined) {
    if (head.revision < seen.revision || (head.revision === seen.revision && !sameHead)) {
      throw fail('CONFLICT', `hypercore:${name} went back from revision ${seen.revision} to ${head.revision} (the owner truncated the core to fork ${core.fork}); keeping revision ${seen.revision}`, { backend: BACKEND, details })
    }
    return
  }
  if (core.fork !== seen.fork ? !sameHead : index < seen.index) {
    throw fail('CONFLICT', `hypercore:${name} was truncated (fork ${seen.fork} → ${core.fork}); keeping block ${seen.index}`, { backend: BACKEND, details })
  }
}

/** CONFLICT for a core Hypercore found two conflicting signed heads in. */
export function equivocationError (name: string, at: { length: number, fork: number }): Error {
  return fail('CONFLICT', `hypercore:${name} is equivocating: two conflicting signed heads exist for length ${at.length} (fork ${at.fork}); the core is frozen`, { backend: BACKEND, details: { name, ...at } })
}

/** Remembers `seen` as the newest accepted head (in memory and on disk). */
export async function rememberSeen (core: Hypercore, memory: FeedMemory, seen: SeenHead): Promise<void> {
  const old = memory.seen
  memory.seen = seen
  if (old?.fork === seen.fork && old.index === seen.index && old.head === seen.head) return
  await core.setUserData(SEEN_KEY, Buffer.from(JSON.stringify(seen)))
}

/** Remembers that `core` equivocated; `core` must be an open session (the conflict closed the old ones). */
export async function rememberEquivocation (core: Hypercore, at: { length: number, fork: number }): Promise<void> {
  await core.setUserData(EQUIVOCATION_KEY, Buffer.from(JSON.stringify(at)))
}

/** Marks a core as one this storage writes (announced again after a restart). */
export async function markOwn (core: Hypercore): Promise<void> {
  await core.setUserData(OWN_KEY, Buffer.from('1'))
}

export async function isMarkedOwn (core: Hypercore): Promise<boolean> {
  return (await core.getUserData(OWN_KEY)) !== null
}
