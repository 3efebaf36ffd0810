import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { withSeedService } from '../adapters/ns/seed-service.js'
import { isRemoteLogError } from '../core/errors.js'
import { memoryWriterStorage } from '../core/writer-storage.js'
import { LogWriter } from '../core/writer.js'

/** A seed service that holds whatever head the test says (none at first), counting requests. */
async function fakeSeeder (): Promise<{ url: string, holds: (head: string | undefined) => void, asked: () => number, server: Server }> {
  let head: string | undefined
  let asked = 0
  const server = createServer((request, response) => {
    asked++
    request.resume()
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify({ seeded: { length: head === undefined ? 0 : 1, hasHead: head !== undefined, head } }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, holds: h => { head = h }, asked: () => asked, server }
}

const servers: Server[] = []
afterEach(() => { for (const s of servers.splice(0)) s.close() })

describe('withSeedService', () => {
  it('a publish whose seeding failed is seeded by the next publish, which finds the name already moved', async () => {
    const seeder = await fakeSeeder()
    servers.push(seeder.server)
    const inner = memoryNs()
    const ns = withSeedService(inner, { url: seeder.url, timeoutMs: 300 })
    const writer = await LogWriter.open({ cas: memoryCas(), ns, owner: { label: 'alice', secret: randomBytes(32) }, storage: memoryWriterStorage() })
    await writer.append(['hello'])

    const first = await writer.publish().catch((e: unknown) => e)
    expect(isRemoteLogError(first, 'UNAVAILABLE'), String(first)).toBe(true)
    expect(String(first)).toMatch(/did not replicate it/)
    const moved = await inner.resolve(writer.name)

    // The seeder comes round; the next publish must ask it again, not take the moved name as done.
    seeder.holds(moved.head.toString())
    const askedBefore = seeder.asked()
    const second = await writer.publish()
    expect(second?.receipt.alreadyPublished).toBe(true)
    expect(seeder.asked(), 'the retry asked the seeder').toBeGreaterThan(askedBefore)
    expect(writer.length).toBe(1)
  })

  it('a retry is refused while the seeder still lacks the head', async () => {
    const seeder = await fakeSeeder()
    servers.push(seeder.server)
    const ns = withSeedService(memoryNs(), { url: seeder.url, timeoutMs: 200 })
    const writer = await LogWriter.open({ cas: memoryCas(), ns, owner: { label: 'alice', secret: randomBytes(32) }, storage: memoryWriterStorage() })
    await writer.append(['hello'])
    await expect(writer.publish()).rejects.toThrow(/did not replicate/)
    seeder.holds('bafkreisomeotherhead')
    await expect(writer.publish()).rejects.toThrow(/it holds head bafkreisomeotherhead/)
    expect(writer.pendingCount, 'the message is still pending').toBe(1)
  })
})
