import { describe, expect, it } from 'vitest'
import { renderHtml } from '../compare/html.js'
import type { AttackEvidence, BackendResult, CompareReport, ReaderEvidence } from '../compare/metrics.js'
import { judge } from '../compare/probe.js'
import { renderTable } from '../compare/table.js'

const reader = (name: string, over: Partial<ReaderEvidence> = {}): ReaderEvidence =>
  ({ reader: name, sawNewer: true, syncs: 1, delivered: 0, length: 10, head: 'current', fooled: false, intact: true, ...over })
const attack = (over: Partial<AttackEvidence> = {}): AttackEvidence => ({
  attack: 'another key moves the name',
  backend: { accepted: true, summary: 'written' },
  nameBefore: 'current',
  nameAfter: 'forged',
  attackHead: 'forged',
  readers: [reader('reader A', { code: 'PERMISSION' }), reader('reader B', { code: 'PERMISSION' })],
  ...over
})

describe('who refused: the verdict on one raw attack', () => {
  it('refused by the backend: it said no and the name stayed', () => {
    const outcome = judge(attack({ backend: { accepted: false, summary: 'HTTP 403', status: 403 }, nameAfter: 'current', readers: [reader('reader A')] }), () => true)
    expect(outcome).toMatchObject({ held: true, verdict: 'refused by the backend' })
  })

  it('accepted by the backend, refused by every reader: each reader that counts failed with a code', () => {
    expect(judge(attack(), () => true)).toMatchObject({ held: true, verdict: 'accepted by the backend, refused by every reader' })
    // A rollback: a new reader that follows the older head is shown, not counted.
    const rollback = attack({ readers: [reader('reader A', { code: 'CONFLICT' }), reader('a new reader', { sawNewer: false, fooled: true, head: 'forged', delivered: 4, length: 4 })] })
    const outcome = judge(rollback, r => r.sawNewer)
    expect(outcome.verdict).toBe('accepted by the backend, refused by every reader')
    expect(outcome.how).toMatch(/a new reader FOLLOWED IT .*never saw newer/)
    expect(rollback.readers.map(r => r.counted)).toEqual([true, false])
  })

  it('NOT HELD when a reader that counts followed the attack, delivered a forged entry or lost its copy; "not measured" when the backend took it and a reader never met it', () => {
    expect(judge(attack({ readers: [reader('reader A', { code: 'PERMISSION' }), reader('reader B', { fooled: true, head: 'forged', delivered: 1, length: 11 })] }), () => true))
      .toMatchObject({ held: false, verdict: 'NOT HELD' })
    expect(judge(attack({ backend: { accepted: false, summary: 'refused' }, nameAfter: 'current', readers: [reader('reader A', { intact: false })] }), () => true).verdict).toBe('NOT HELD')
    // The backend answered no, yet its state moved: that is accepted, and then every reader must refuse.
    expect(judge(attack({ backend: { accepted: false, summary: 'refused' }, readers: [reader('reader A')] }), () => true).verdict).toBe('not measured')
    expect(judge(attack({ readers: [reader('reader A', { code: 'UNAVAILABLE', unreached: true })] }), () => true).verdict).toBe('not measured')
  })

  it('the table and the HTML report say NOT HELD, with the evidence', () => {
    const notHeld = judge(attack({ readers: [reader('reader B', { fooled: true, head: 'forged', delivered: 1, length: 11 })] }), () => true)
    const result: BackendResult = {
      id: 'x+local', ns: 'x', cas: 'local', ok: true, metrics: {}, samples: { publishMs: [], resolveMs: [], followerMs: [] }, catchUp: [], details: {}, durationMs: 1,
      guarantees: { ownerOnlyWrites: notHeld, history: { held: true, how: 'fine' } }
    }
    const report: CompareReport = {
      version: 1, startedAt: '2026-11-30T00:00:00Z', durationMs: 1, devnet: { embedded: true }, machine: { node: 'v20', platform: 'linux', cpus: 2 },
      scenario: { messages: 10, batch: 5, mode: 'pointer', pageEntries: 4, messageBytes: 40, resolves: 1 },
      results: [result]
    }
    const table = renderTable(report)
    expect(table).toMatch(/owner-only writes\s+NOT HELD/)
    expect(table).toContain('x+local: owner-only writes NOT HELD: written; the name now points at forged (the attack\'s head); readers: reader B FOLLOWED IT')
    expect(table).toMatch(/history\s+yes/) // an outcome with no verdict gets one from `held`
    const html = renderHtml(report)
    expect(html).toContain('data-verdict="NOT HELD"')
    expect(html).toContain('reader B: FOLLOWED IT')
  })
})
