/**
 * Fault injection for crash-safety tests: when REMOTELOG_CRASH_AT names this point, the process
 * kills itself (SIGKILL, no cleanup) right here, as a power cut or `kill -9` would.
 */
export function crashPoint (point: string): void {
  if (process.env.REMOTELOG_CRASH_AT === point) process.kill(process.pid, 'SIGKILL')
}
