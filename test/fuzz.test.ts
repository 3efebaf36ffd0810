import { describe, expect, it } from 'vitest'
import { decodePointer } from '../core/head-pointer.js'
import { openRecord } from '../core/signed-record.js'
import { FUZZ_NAME, fuzzTargets, seedInputs } from './fuzz-targets.js'
import { fuzz, savedInputs } from './fuzz-run.js'

// Every decoder on arbitrary bytes: a value, or a RemoteLogError with a typed code — never another
// error, never a hang. The seeds and every input a fuzzer (or a review) found are replayed here.
describe('decoders on the fuzz corpus', () => {
  const seeds = seedInputs()
  it.each(Object.keys(fuzzTargets))('%s: every seed and every saved finding decodes or is refused with a typed code', async (target) => {
    const inputs = [...seeds[target].map((bytes, i) => ({ name: `seed ${i}`, bytes })), ...await savedInputs(target)]
    expect(inputs.length).toBeGreaterThan(0)
    for (const { name, bytes } of inputs) {
      const started = performance.now()
      await expect(Promise.resolve().then(async () => { await fuzzTargets[target](bytes) }), name).resolves.toBeUndefined()
      expect(performance.now() - started, `${target} ${name} took too long`).toBeLessThan(1000)
    }
  })

  it('a pointer claiming a length past 2^53 is MALFORMED, not a rounded number (found by the fuzzer)', async () => {
    const [input] = (await savedInputs('pointer')).filter(s => s.name.startsWith('crash-e44a90c3'))
    expect(() => decodePointer(input.bytes)).toThrow(expect.objectContaining({ code: 'MALFORMED' }))
  })

  it('a record of the right key with sequence 2^64 − 1 is MALFORMED, not a RangeError (found by review)', async () => {
    const [input] = (await savedInputs('record')).filter(s => s.name === 'review-sequence-2e64-minus-1')
    expect(() => openRecord(FUZZ_NAME, input.bytes)).toThrow(expect.objectContaining({ code: 'MALFORMED', name: 'RemoteLogError' }))
  })
})

// A short, fixed-time run of Jazzer.js on every target (the long one: `npm run fuzz`).
describe('coverage-guided fuzzing (Jazzer.js, a few seconds per target)', () => {
  it('finds nothing in any decoder', async () => {
    const lines: string[] = []
    const outcomes = await fuzz({ seconds: Number(process.env.REMOTELOG_FUZZ_SECONDS ?? 3), log: line => { lines.push(line) } })
    const failed = outcomes.filter(o => !o.ok)
    expect(failed.map(o => `${o.target}: ${o.finding?.reason ?? ''}\n${o.output.slice(-2000)}`)).toEqual([])
    for (const o of outcomes) expect(o.runs, `${o.target} ran no input: ${o.output.slice(-1000)}`).toBeGreaterThan(100)
  }, 180_000)
})
