import '../core/node-compat.js'
import { cpus, totalmem } from 'node:os'

/** One measured figure. `ratio` compares it with the same run's baseline where there is one. */
export interface Figure {
  name: string
  value: number
  unit: string
  baseline?: string
  ratio?: number
}

export const wantsJson = process.argv.includes('--json')

/** Milliseconds since `start` (a `performance.now()` reading). */
export function since (start: number): number {
  return performance.now() - start
}

/** The p-th percentile (0–100) of `samples`. */
export function percentile (samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** Runs `fn` `n` times and returns each run's milliseconds. */
export async function sample (n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    await fn(i)
    out.push(since(start))
  }
  return out
}

/** Adds `ratio` = value / baseline value to figures naming a baseline measured in the same run. */
export function withRatios (figures: Figure[]): Figure[] {
  const byName = new Map(figures.map(f => [f.name, f]))
  return figures.map(f => {
    const base = f.baseline !== undefined ? byName.get(f.baseline) : undefined
    return base !== undefined && base.value !== 0 ? { ...f, ratio: f.value / base.value } : f
  })
}

/** Prints figures as a table, or as JSON with `--json`. */
export function report (title: string, figures: Figure[]): void {
  const rows = withRatios(figures)
  if (wantsJson) {
    console.log(JSON.stringify({ title, date: new Date().toISOString(), machine: machine(), figures: rows }))
    return
  }
  console.log(`\n${title} (${machine()})`)
  const width = Math.max(...rows.map(r => r.name.length))
  for (const r of rows) {
    const ratio = r.ratio !== undefined ? `  (${r.ratio.toFixed(2)}× ${r.baseline})` : ''
    console.log(`  ${r.name.padEnd(width)}  ${format(r.value).padStart(12)} ${r.unit}${ratio}`)
  }
}

function format (n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)
}

export function machine (): string {
  return `${cpus().length} cores ${cpus()[0]?.model.trim() ?? ''}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
}
