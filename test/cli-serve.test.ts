import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

const bin = fileURLToPath(new URL('../bin/remotelog.js', import.meta.url))

describe('remotelog serve', () => {
  it('serves the state dir\'s backends over Twirp and stops cleanly on SIGTERM', async () => {
    const root = await tempDir()
    const env = { ...process.env, REMOTELOG_STORE: join(root, 'store') }
    const dir = join(root, 'server')
    await cli(['--dir', dir, 'init'], { env })
    const child = spawn(process.execPath, [bin, '--dir', dir, '--json', 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const [line] = await once(child.stdout, 'data') as [Buffer]
      const { url } = JSON.parse(line.toString()) as { url: string }
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await fetch(`${url}/healthz`)).status).toBe(200)
      const added = await fetch(`${url}/twirp/vac.cas.CAS/Add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: Buffer.from('hello').toString('base64') }) })
      const { id } = await added.json() as { id: string }
      const got = await fetch(`${url}/twirp/vac.cas.CAS/Get`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) })
      expect(Buffer.from((await got.json() as { data: string }).data, 'base64').toString()).toBe('hello')
    } finally {
      child.kill('SIGTERM')
      const [code] = await once(child, 'close')
      expect(code).toBe(0)
    }
  })
})
