// Runs every benchmark in bench/ one after another (each in its own process), passing --json through.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2).filter(a => !a.startsWith('--'))
const flags = process.argv.slice(2).filter(a => a.startsWith('--'))
const benches = readdirSync(here).filter(f => f.endsWith('.ts') && !['run.ts', 'support.ts'].includes(f))
  .filter(f => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))
let failed = 0
for (const file of benches.sort()) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', `${here}${file}`, ...flags], { stdio: 'inherit' })
  if (result.status !== 0) { failed++; console.error(`bench/${file} failed (${result.status ?? result.signal})`) }
}
process.exit(failed > 0 ? 1 : 0)
