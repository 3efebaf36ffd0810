// CLI start-up (issue 13): `remotelog status` and `remotelog append` from the built bundle against
// `node -e 0`, interleaved in one run so machine noise hits both alike. Builds first if needed.
// With an embedded Helia node as the CAS (the networked backends start a node per command), alone
// and through a running `remotelog daemon` on another state dir of the same config.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { percentile, report, type Figure } from './support.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const bundle = join(root, 'dist', 'cli-bundle', 'main.js')
if (!existsSync(bundle)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })

const runs = process.argv.includes('--quick') ? 10 : 30
const dir = await mkdtemp(join(tmpdir(), 'remotelog-bench-cli-'))
const env = { ...process.env, REMOTELOG_STORE: join(dir, 'store') }
const state = join(dir, 'state')
const heliaAlone = join(dir, 'helia-alone')
const heliaDaemon = join(dir, 'helia-daemon')

function time (args: string[]): number {
  const start = performance.now()
  const run = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${run.stderr.toString()}`)
  return performance.now() - start
}

let daemon = false
try {
  time([bundle, '--dir', state, 'init'])
  for (const helia of [heliaAlone, heliaDaemon]) time([bundle, '--dir', helia, 'init', '--cas', 'helia'])
  time([bundle, '--dir', heliaDaemon, 'daemon', '--detach'])
  daemon = true
  const cases: Record<string, string[]> = {
    'node -e 0': ['-e', '0'],
    'remotelog --help': [bundle, '--help'],
    'remotelog status': [bundle, '--dir', state, 'status'],
    'remotelog append (local, publish included)': [bundle, '--dir', state, 'append', 'hello'],
    'remotelog append (helia, alone)': [bundle, '--dir', heliaAlone, 'append', 'hello'],
    'remotelog append (helia, through the daemon)': [bundle, '--dir', heliaDaemon, 'append', 'hello'],
    'remotelog status (helia, through the daemon)': [bundle, '--dir', heliaDaemon, 'status']
  }
  const samples = new Map<string, number[]>(Object.keys(cases).map(name => [name, []]))
  for (let i = 0; i < runs; i++) for (const [name, args] of Object.entries(cases)) samples.get(name)!.push(time(args))
  const figures: Figure[] = [...samples].map(([name, ms]) => ({
    name: `${name} (median of ${runs})`,
    value: percentile(ms, 50),
    unit: 'ms',
    baseline: name === 'node -e 0' ? undefined : `node -e 0 (median of ${runs})`
  }))
  report('remotelog CLI start-up', figures)
} finally {
  if (daemon) time([bundle, '--dir', heliaDaemon, 'daemon', 'stop'])
  await rm(dir, { recursive: true, force: true })
}
