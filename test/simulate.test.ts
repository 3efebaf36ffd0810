import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevnet, type Devnet } from '../devnet/devnet.js'
import { runSimulation, type SimulationReport } from '../simulate/run.js'
import { cli } from './support/cli.js'
import { tempDir } from './support/temp-dir.js'

/** What a simulation must show whatever the profile: everything delivered, once, in order, through churn. */
function expectComplete (report: SimulationReport, endpoints: number): void {
  expect(report.endpoints).toBe(endpoints)
  expect(report.offlineEvents).toBeGreaterThan(0) // churn happened: endpoints went offline mid-run
  expect(report.published).toBeGreaterThan(endpoints)
  expect(report.expected).toBe(report.published * (endpoints - 1))
  expect(report.delivered).toBe(report.expected)
  expect(report.deliveryRate).toBe(1)
  expect(report.duplicates).toBe(0)
  expect(report.misordered).toBe(0)
  expect(report.perMessage.casRequests).toBeGreaterThan(0)
  expect(report.perMessage.nsRequests).toBeGreaterThan(0)
}

describe('remotelog simulate: endpoints that publish, go offline and come back at random', () => {
  it('local profile (through the CLI): 100 % delivered, no duplicates, order kept', async () => {
    const out = await cli(['--json', 'simulate', '--endpoints', '5', '--rounds', '8', '--churn', '0.4', '--seed', '3', '--quiet'])
    const report = JSON.parse(out) as SimulationReport
    expect(report).toMatchObject({ profile: 'local', ns: 'local', cas: 'local', rounds: 8, churn: 0.4, seed: 3 })
    expectComplete(report, 5)
  })

  describe('devnet profile', () => {
    let devnet: Devnet
    beforeAll(async () => { devnet = await startDevnet({ dir: await tempDir('remotelog-simulate-devnet-') }) }, 90_000)
    afterAll(async () => { await devnet?.stop() })

    it.each([
      { ns: 'hypercore', cas: 'helia' },
      { ns: 'ens', cas: 'twirp' }
    ])('ns $ns + cas $cas: 100 % delivered, no duplicates, order kept', async ({ ns, cas }) => {
      const report = await runSimulation({ profile: 'devnet', devnet: devnet.settings, ns, cas, endpoints: 4, rounds: 5, churn: 0.4, seed: 11 })
      expect(report).toMatchObject({ profile: 'devnet', ns, cas })
      expectComplete(report, 4)
    })
  })
})
