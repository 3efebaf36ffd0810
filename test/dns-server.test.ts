import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { tempDir } from './support/temp-dir.js'
import { dnsNs } from '../adapters/ns/dns.js'
import { cidOf } from '../core/ids.js'
import { findNamed, startDnsServer } from '../devnet/dns-server.js'

const named = await findNamed()

function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function gone (pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (running(pid) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  return !running(pid)
}

describe.skipIf(named === undefined)('the devnet\'s BIND 9 named (devnet/dns-server.ts)', () => {
  it('runs on 127.0.0.1 with its files in its folder; a restart there keeps the records and the key; stop ends named', async () => {
    const dir = await tempDir('remotelog-named-')
    const first = await startDnsServer({ dir })
    expect(first.server).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(first.zone).toBe('remotelog.test')
    expect(first.tsig).toMatchObject({ algorithm: 'hmac-sha256' })
    expect(Buffer.from(first.tsig.secret, 'base64')).toHaveLength(32)
    expect(await readFile(join(dir, 'named.conf'), 'utf8')).toContain(`listen-on port ${first.server.split(':')[1]} { 127.0.0.1; }`)
    const owner = { label: 'keep', secret: randomBytes(32) }
    const head = cidOf(randomBytes(8))
    const writer = dnsNs({ server: first.server, zone: first.zone, tsig: first.tsig })
    const name = await writer.nameOf(owner)
    await writer.publish(name, { head, length: 1, revision: 1 }, owner)
    await writer.close()
    await first.stop()
    expect(await gone(first.pid)).toBe(true)

    const second = await startDnsServer({ dir })
    try {
      expect(second.tsig).toEqual(first.tsig)
      const reader = dnsNs({ server: second.server })
      expect((await reader.resolve(name)).head.toString()).toBe(head.toString())
      await reader.close()
    } finally {
      await second.stop()
    }
  })

  it('ends named when the process that started it is killed (SIGKILL: no exit handler runs)', async () => {
    const module = fileURLToPath(new URL('../devnet/dns-server.ts', import.meta.url))
    const code = `const { startDnsServer } = await import(${JSON.stringify(module)}); const s = await startDnsServer(); console.log(JSON.stringify({ pid: s.pid, dir: s.dir })); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [line] = await once(child.stdout, 'data') as [Buffer]
    const { pid, dir } = JSON.parse(line.toString()) as { pid: number, dir: string }
    expect(running(pid)).toBe(true)
    child.kill('SIGKILL')
    await once(child, 'exit')
    expect(await gone(pid)).toBe(true)
    // …and removes its temp folder.
    const deadline = Date.now() + 5000
    while (await access(dir).then(() => true, () => false) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    await expect(access(dir)).rejects.toThrow()
  })
})
