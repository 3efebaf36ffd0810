import { join } from 'node:path'
import { fail } from '../core/errors.js'
import { devnetAlive, readDevnetSettings, type DevnetSettings } from './settings.js'

/** A devnet to run against: a running one, or one started here (then `stop` is set). */
export interface UsedDevnet {
  settings: DevnetSettings
  /** Stops the devnet this call started; undefined for a running devnet it only used. */
  stop?: () => Promise<void>
}

/**
 * Uses the running devnet `given` names (settings, or their file or folder), or starts an embedded
 * one in `<root>/devnet` when none is given.
 * @example const { settings, stop } = await useDevnet(undefined, root, console.error); … await stop?.()
 */
export async function useDevnet (given: string | DevnetSettings | undefined, root: string, log: (line: string) => void): Promise<UsedDevnet> {
  if (given === undefined) {
    log('starting an embedded devnet…')
    const { startDevnet } = await import('./devnet.js')
    const embedded = await startDevnet({ dir: join(root, 'devnet') })
    return { settings: embedded.settings, stop: embedded.stop }
  }
  const settings = typeof given === 'string' ? await readDevnetSettings(given) : given
  if (!devnetAlive(settings)) throw fail('UNAVAILABLE', `the devnet in ${settings.dir} is not running (start it with: remotelog devnet)`)
  return { settings }
}
