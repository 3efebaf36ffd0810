import { SingleBar, Presets } from 'cli-progress'

/** A progress bar on a terminal's stderr; silent when stderr is not a terminal or with --json. */
export function progressBar (label: string, quiet: boolean): { update: (n: number) => void, stop: () => void } {
  if (quiet || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  const bar = new SingleBar({ format: `${label} {value} messages | {duration}s`, stream: process.stderr, hideCursor: true }, Presets.shades_classic)
  let started = false
  return {
    update (n) {
      if (!started) { bar.start(0, 0); started = true }
      bar.update(n)
    },
    stop () { if (started) bar.stop() }
  }
}
