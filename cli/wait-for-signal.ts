import { once } from 'node:events'

/** Resolves on Ctrl-C or SIGTERM: long-running commands stop cleanly on either. */
export async function waitForSignal (): Promise<void> {
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
}
