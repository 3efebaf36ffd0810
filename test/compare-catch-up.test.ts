import { describe, expect, it } from 'vitest'
import type { Actor } from '../compare/actor.js'
import { catchUp } from '../compare/catch-up.js'
import type { SyncReport } from '../core/endpoint.js'
import { fail } from '../core/errors.js'

type Outcome = 'timeout' | 'not published' | 'ok' | 'malformed'

/** A reader whose syncs go as `outcomes` say, one per call; closing it is recorded. */
function reader (name: string, outcomes: Outcome[], closed: string[]): Actor {
  return {
    endpoint: {
      sync: async () => {
        const next = outcomes.shift()
        if (next === 'timeout') throw fail('TIMEOUT', `${name}: reading the head took longer than 10000 ms`)
        if (next === 'malformed') throw fail('MALFORMED', `${name}: bad page`)
        return { published: next === 'ok', delivered: next === 'ok' ? 5 : 0, ms: 10 } as unknown as SyncReport
      }
    },
    close: async () => { closed.push(name) }
  } as unknown as Actor
}

describe('compare: a catch-up sync', () => {
  it('reopens the reader after a timeout and syncs on the new one; the retry is counted', async () => {
    const closed: string[] = []
    const retries = { count: 0 }
    const first = reader('first', ['timeout'], closed)
    const second = reader('second', ['ok'], closed)
    const { report, actor } = await catchUp(first, 'w', retries, async old => { await old.close(); return second })
    expect(actor).toBe(second)
    expect(closed).toEqual(['first'])
    expect(report.delivered).toBe(5)
    expect(report.ms).toBeGreaterThanOrEqual(10) // the failed attempt's time counts too
    expect(retries.count).toBe(1)
  })

  it('syncs again on the same reader while the name is not found yet, up to 3 syncs', async () => {
    const retries = { count: 0 }
    const same = reader('same', ['not published', 'not published', 'not published', 'ok'], [])
    const { report, actor } = await catchUp(same, 'w', retries, async () => { throw new Error('not reopened') })
    expect(actor).toBe(same)
    expect(report.published).toBe(false)
    expect(retries.count).toBe(2)
  })

  it('gives up after 3 timeouts, and at once on any other error', async () => {
    const timeouts = reader('t', ['timeout', 'timeout', 'timeout'], [])
    await expect(catchUp(timeouts, 'w', { count: 0 }, async a => a)).rejects.toMatchObject({ code: 'TIMEOUT' })
    await expect(catchUp(reader('m', ['malformed', 'ok'], []), 'w', { count: 0 }, async a => a)).rejects.toMatchObject({ code: 'MALFORMED' })
  })
})
