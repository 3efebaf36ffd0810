/**
 * Coverage-guided fuzzing of remotelog's decoders with Jazzer.js (libFuzzer in Node).
 *
 *   tsx test/fuzz-run.ts [--seconds N] [--save-crashes] [--corpus DIR] [target…]
 *
 * Each target of test/fuzz-targets.ts (all by default) is bundled with esbuild into one file —
 * so the decoders and the protobuf runtime under them are instrumented alike — and fuzzed for N
 * seconds (default 5), starting from the seeds of `seedInputs()` and every input saved in
 * test/fuzz-corpus/<target>/ (earlier findings, kept as regression inputs). An input that
 * throws anything but a RemoteLogError, or runs longer than `--timeout-ms` (default 2000), is a
 * finding: it is printed (path and base64), and with `--save-crashes` copied into
 * test/fuzz-corpus/<target>/ where test/fuzz.test.ts replays it on every `npm test`.
 * `--corpus DIR` keeps the grown corpus in DIR/<target> between runs. Exits 1 on any finding.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { ensureFuzzerAddon } from './fuzz-addon.js'
import { fuzzTargets, seedInputs, SYNC_TARGETS } from './fuzz-targets.js'

const require = createRequire(import.meta.url)
const here = fileURLToPath(new URL('.', import.meta.url))
export const CORPUS_DIR = join(here, 'fuzz-corpus')

export interface FuzzRunOptions {
  targets?: string[]
  seconds?: number
  timeoutMs?: number
  /** Copy each finding into test/fuzz-corpus/<target>/. */
  saveCrashes?: boolean
  /** Keep the grown corpus here (one folder per target) instead of a temporary folder. */
  corpus?: string
  log?: (line: string) => void
}

export interface TargetOutcome {
  target: string
  ok: boolean
  /** Inputs run, as libFuzzer counted them. */
  runs: number
  /** Coverage edges reached (libFuzzer's `cov:`). */
  coverage: number
  /** The input of a finding, its first line of explanation, and where it was saved. */
  finding?: { input: Uint8Array, reason: string, saved?: string }
  output: string
}

/** Files in test/fuzz-corpus/<target>/: inputs of earlier findings (and any kept corpus). */
export async function savedInputs (target: string): Promise<Array<{ name: string, bytes: Uint8Array }>> {
  const dir = join(CORPUS_DIR, target)
  const names = await readdir(dir).catch(() => [] as string[])
  return await Promise.all(names.filter(n => !n.startsWith('.') && !n.endsWith('.md')).sort().map(async name => ({ name, bytes: await readFile(join(dir, name)) })))
}

/**
 * libFuzzer dictionary: tokens the decoders branch on, which random mutation rarely builds —
 * the largest varints (past 2^53 and 2^64 − 1), a CID's prefix, a record header's all-zero
 * checksum, Twirp's JSON keys and Content-Types.
 */
export const DICTIONARY = [
  '"\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x01"',
  '"\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x10"',
  '"\\xff\\xff\\xff\\xff\\x0f"',
  '"\\x01\\x55\\x12\\x20"',
  '"\\x01\\x70\\x12\\x20"',
  '"\\x00\\x00\\x00\\x00"',
  '"\\x00\\x00\\x00\\x00\\x00\\x00\\xf0\\x7f"',
  '"\\x00\\x00\\x00\\x00\\x00\\x00\\xf8\\x7f"',
  '"\\"name\\""', '"\\"content\\""', '"\\"data\\""', '"\\"id\\""', '"null"', '"\\"\\\\u0000\\""',
  '"application/json"', '"application/protobuf"', '"; charset=utf-8"'
]

async function bundle (target: string, out: string): Promise<void> {
  await build({
    stdin: {
      contents: `import { fuzzTargets } from './fuzz-targets.ts'\nconst target = fuzzTargets[${JSON.stringify(target)}]\nexport function fuzz (data) { return target(data) }\n`,
      resolveDir: here,
      sourcefile: `fuzz-${target}.ts`,
      loader: 'ts'
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    sourcemap: 'inline',
    logLevel: 'error',
    // Bundled ESM still needs `require` for the CommonJS packages inside.
    banner: { js: "import { createRequire as __rl_cr } from 'node:module'; const require = __rl_cr(import.meta.url);" }
  })
}

function run (args: string[], log: (line: string) => void): Promise<{ code: number | null, output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const take = (chunk: Buffer): void => { output += chunk.toString() }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.once('error', fail)
    child.once('close', code => { done({ code, output }) })
    void log
  })
}

/** Fuzzes each target for `seconds`; resolves with one outcome per target. */
export async function fuzz (options: FuzzRunOptions = {}): Promise<TargetOutcome[]> {
  const log = options.log ?? ((line: string) => { console.log(line) })
  const targets = options.targets ?? Object.keys(fuzzTargets)
  for (const t of targets) if (fuzzTargets[t] === undefined) throw new Error(`no fuzz target ${t} (known: ${Object.keys(fuzzTargets).join(', ')})`)
  const seconds = options.seconds ?? 5
  log(await ensureFuzzerAddon())
  const cli = require.resolve('@jazzer.js/core/dist/cli.js')
  const work = await mkdtemp(join(tmpdir(), 'remotelog-fuzz-'))
  const seeds = seedInputs()
  const outcomes: TargetOutcome[] = []
  try {
    for (const target of targets) {
      const entry = join(work, `${target}.mjs`)
      await bundle(target, entry)
      const corpus = options.corpus !== undefined ? join(resolve(options.corpus), target) : join(work, 'corpus', target)
      await mkdir(corpus, { recursive: true })
      for (const input of [...seeds[target] ?? [], ...(await savedInputs(target)).map(s => s.bytes)]) {
        await writeFile(join(corpus, createHash('sha1').update(input).digest('hex')), input)
      }
      const artifacts = join(work, 'artifacts', target)
      await mkdir(artifacts, { recursive: true })
      const dict = join(work, 'remotelog.dict')
      await writeFile(dict, DICTIONARY.join('\n') + '\n')
      const args = [cli, entry, corpus, '--timeout', String(options.timeoutMs ?? 2000), ...(SYNC_TARGETS.has(target) ? ['--sync'] : []),
        '--', `-max_total_time=${seconds}`, `-artifact_prefix=${artifacts}/`, '-max_len=4096', '-print_final_stats=1', `-dict=${dict}`, '-use_value_profile=1']
      const { code, output } = await run(args, log)
      const runs = Math.max(0, ...[...output.matchAll(/stat::number_of_executed_units:\s*(\d+)|Done (\d+) runs|^#(\d+)\s/gm)].map(m => Number(m[1] ?? m[2] ?? m[3])))
      const coverage = Math.max(0, ...[...output.matchAll(/cov: (\d+)/g)].map(m => Number(m[1])))
      const outcome: TargetOutcome = { target, ok: code === 0, runs, coverage, output }
      if (code !== 0) {
        const files = (await readdir(artifacts)).filter(n => /^(crash|timeout|oom|leak|slow-unit)-/.test(n))
        const reason = /(FuzzFinding: .*|Error: .*|==\d+== ERROR: .*|ALARM: .*timeout.*)/.exec(output)?.[1] ?? `jazzer exited ${String(code)}`
        if (files.length > 0) {
          const input = await readFile(join(artifacts, files[0]))
          outcome.finding = { input, reason }
          if (options.saveCrashes === true) {
            await mkdir(join(CORPUS_DIR, target), { recursive: true })
            const saved = join(CORPUS_DIR, target, basename(files[0]))
            await copyFile(join(artifacts, files[0]), saved)
            outcome.finding.saved = saved
          }
        } else {
          outcome.finding = { input: new Uint8Array(0), reason }
        }
      }
      log(`${target}: ${outcome.ok ? 'ok' : 'FINDING'} — ${runs} runs in ${seconds} s, coverage ${coverage}` +
        (outcome.finding !== undefined ? `\n  ${outcome.finding.reason}\n  input (base64): ${Buffer.from(outcome.finding.input).toString('base64')}${outcome.finding.saved !== undefined ? `\n  saved as ${outcome.finding.saved}` : ''}` : ''))
      outcomes.push(outcome)
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  return outcomes
}

function parseArgs (argv: string[]): FuzzRunOptions {
  const options: FuzzRunOptions = { targets: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--seconds') options.seconds = Number(argv[++i])
    else if (a === '--timeout-ms') options.timeoutMs = Number(argv[++i])
    else if (a === '--save-crashes') options.saveCrashes = true
    else if (a === '--corpus') options.corpus = argv[++i]
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`)
    else options.targets!.push(a)
  }
  if (options.targets!.length === 0) delete options.targets
  return options
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outcomes = await fuzz(parseArgs(process.argv.slice(2)))
  const failed = outcomes.filter(o => !o.ok)
  if (failed.length > 0) {
    for (const o of failed) console.error(`--- ${o.target} ---\n${o.output.slice(-4000)}`)
    process.exitCode = 1
  }
}
