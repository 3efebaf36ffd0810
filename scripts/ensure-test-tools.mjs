#!/usr/bin/env node
// Makes sure the programs `npm test` drives are on this machine, so that a fresh clone needs only
// `npm install && npm test`:
//   - Chromium: the compare report's test renders the report in headless Chromium (playwright-core);
//   - BIND 9's `named`: the dns name system's tests run a real authoritative server on 127.0.0.1.
// Found: says where. Missing, and we are root with apt-get (a Debian or Ubuntu machine, as CI is):
// installs the Debian packages unattended and says so; their own services are not started (a
// policy-rc.d refusing service starts is in place during the install, the standard Debian way).
// Otherwise: exits 1 with the exact command to run.
// Usage: node scripts/ensure-test-tools.mjs [--check]   (--check: never install, only report)
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', ...(process.env.PATH ?? '').split(delimiter)].filter(d => d !== '')
const TOOLS = [
  { command: 'chromium', path: process.env.CHROMIUM_PATH, packages: ['chromium'], why: "the compare report's browser test" },
  { command: 'named', packages: ['bind9'], why: "the dns name system's tests" }
]

function find (tool) {
  const candidates = tool.path !== undefined ? [tool.path] : SEARCH.map(dir => join(dir, tool.command))
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return undefined
}

function aptGet (args) {
  console.error(`[test tools] $ DEBIAN_FRONTEND=noninteractive apt-get ${args.join(' ')}`)
  return spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0
}

const missing = TOOLS.filter(tool => find(tool) === undefined)
for (const tool of TOOLS) if (!missing.includes(tool)) console.error(`[test tools] ${tool.command}: ${find(tool)}`)
if (missing.length === 0) process.exit(0)

const packages = missing.flatMap(tool => tool.packages)
const install = `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages.join(' ')}`
const isRoot = process.getuid?.() === 0
if (process.argv.includes('--check') || !isRoot || !SEARCH.some(dir => existsSync(join(dir, 'apt-get')))) {
  for (const tool of missing) console.error(`[test tools] ${tool.command} is not installed; ${tool.why} need it.`)
  console.error(`[test tools] install with:  ${isRoot ? '' : 'sudo '}${install}`)
  process.exit(1)
}

for (const tool of missing) console.error(`[test tools] ${tool.command} is missing: installing Debian's ${tool.packages.join(' ')} for ${tool.why}`)
const policy = '/usr/sbin/policy-rc.d'
const ownPolicy = !existsSync(policy)
if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# written by remotelog scripts/ensure-test-tools.mjs during an install; removed after it\nexit 101\n', { mode: 0o755 })
let ok
try {
  const args = ['install', '-y', '-q', '--no-install-recommends', ...packages]
  // A fresh machine may have no package lists yet: update once, then retry.
  ok = aptGet(args) || (aptGet(['update', '-q']) && aptGet(args))
} finally {
  if (ownPolicy) rmSync(policy, { force: true })
}
const still = missing.filter(tool => find(tool) === undefined)
if (!ok || still.length > 0) {
  console.error(`[test tools] installing ${packages.join(' ')} failed; run by hand:  ${install}`)
  process.exit(1)
}
for (const tool of missing) console.error(`[test tools] installed ${tool.command}: ${find(tool)}`)
