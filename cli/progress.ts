import { SingleBar } from 'cli-progress'

export interface Progress {
  /** `done` so far, of `total` when it is known. */
  update: (done: number, total?: number) => void
  /** Ends the bar and clears its line, so what follows starts on a clean line. */
  stop: () => void
}

const WIDTH = 24

/** Seconds as `4s`, `2m05s`, `1h02m`. */
export function formatSeconds (seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}

/**
 * The line a progress bar shows: `alice [████░░░░] 120/400 messages  30%  ETA 4s` when the total is
 * known, else `alice 120 messages, 3s`.
 */
export function progressLine (label: string, done: number, total: number | undefined, etaSeconds: number, elapsedSeconds: number): string {
  if (total === undefined || total <= 0) return `${label} ${done} messages, ${formatSeconds(elapsedSeconds)}`
  const fraction = Math.min(1, done / total)
  const filled = Math.round(fraction * WIDTH)
  const eta = done === 0 || !Number.isFinite(etaSeconds) ? 'ETA ?' : `ETA ${formatSeconds(etaSeconds)}`
  return `${label} [${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${done}/${total} messages ${String(Math.floor(fraction * 100)).padStart(3)}%  ${eta}`
}

/**
 * A progress bar on a terminal's stderr (silent when stderr is not a terminal, or with `quiet`, e.g.
 * --json). It shows done/total, percent and ETA once the total is known; `stop` clears its line.
 */
export function progressBar (label: string, quiet: boolean): Progress {
  if (quiet || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  let known: number | undefined
  const bar = new SingleBar({
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    format: (_options, params) => progressLine(label, params.value, known, params.eta, (Date.now() - params.startTime) / 1000)
  })
  let started = false
  return {
    update (done, total) {
      if (total !== undefined) known = total
      if (!started) {
        bar.start(known ?? 0, done)
        started = true
      } else if (total !== undefined && bar.getTotal() !== total) {
        bar.setTotal(total)
      }
      bar.update(done)
    },
    stop () { if (started) bar.stop() }
  }
}
