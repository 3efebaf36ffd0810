import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { ContentStore } from '../core/content-store.js'
import { memoryCas } from '../adapters/cas/memory.js'
import { memoryNs } from '../adapters/ns/memory.js'
import { twirpCas } from '../adapters/cas/twirp.js'
import { startService } from '../service/server.js'
import { expectCode } from './conformance/cas.js'

describe('a client that goes away mid-request', () => {
  it('cancels the backend call, and what the backend throws for it is not reported as an internal error', async () => {
    let started = 0
    let sawAbort = false
    const internal: unknown[] = []
    // Like blockstore-fs: an aborted call rejects with an error of the backend's own making, not a remotelog one.
    const store: ContentStore = {
      ...memoryCas(),
      async put (_bytes, options) {
        started++
        await new Promise((_resolve, reject) => options?.signal?.addEventListener('abort', () => {
          sawAbort = true
          reject(new Error('PutFailedError: AbortError: This operation was aborted'))
        }))
        throw new Error('unreachable')
      }
    }
    const running = await startService({ cas: store, ns: memoryNs(), onInternalError: (e) => internal.push(e) })
    onTestFinished(async () => { await running.close() })
    const controller = new AbortController()
    const pending = twirpCas({ url: running.url, retries: 0 }).put(randomBytes(16), { signal: controller.signal })
    for (let i = 0; i < 250 && started === 0; i++) await sleep(20)
    controller.abort()
    await expectCode(pending, 'ABORTED')
    for (let i = 0; i < 250 && running.inFlight > 0; i++) await sleep(20)
    expect({ started, sawAbort, inFlight: running.inFlight, internal }).toEqual({ started: 1, sawAbort: true, inFlight: 0, internal: [] })
  })
})
