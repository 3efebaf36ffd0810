import type { Command } from 'commander'
import { access, mkdir } from 'node:fs/promises'
import { configPath, defaultStoreDir, saveConfig } from '../../config/config.js'
import { initConfig } from '../../config/presets.js'
import { devnetAlive, readDevnetSettings } from '../../devnet/settings.js'
import { Keystore } from '../../core/keystore.js'
import { fail } from '../../core/errors.js'
import { checkStateDir, globals, output } from '../context.js'
import { readSecret, warn } from '../secrets.js'

interface InitOptions {
  cas?: string
  ns?: string
  name?: string
  store?: string
  force?: boolean
  profile?: string
  devnet?: string
  remote?: string
  token?: string
  tokenFile?: string
}

/** INVALID_INPUT unless `text` is an http(s) URL of a service: no credentials, query or fragment. */
export function checkServiceUrl (text: string): string {
  let url: URL
  try {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new Error('no scheme')
    url = new URL(text)
  } catch {
    if (!text.includes('://') && text.trim() !== '') throw fail('INVALID_INPUT', `--remote ${JSON.stringify(text)} is not a URL: did you mean http://${text}?`)
    throw fail('INVALID_INPUT', `--remote ${JSON.stringify(text)} is not a URL: give the service's http(s) URL, e.g. http://127.0.0.1:7878`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail('INVALID_INPUT', `--remote ${text}: the service speaks http or https, not ${url.protocol.replace(/:$/, '')}`)
  if (url.username !== '' || url.password !== '') throw fail('INVALID_INPUT', '--remote: no credentials in the URL (they would be stored and shown in clear); use --token-file FILE or REMOTELOG_TOKEN')
  if (url.search !== '' || url.hash !== '') throw fail('INVALID_INPUT', `--remote ${text}: the service URL has no query or fragment`)
  return text.replace(/\/+$/, '')
}

/** Asks the service's GET /healthz; undefined when a remotelog service answers, else what is wrong. */
export async function probeService (url: string, timeoutMs = 3000): Promise<string | undefined> {
  const target = new URL(`${url}/healthz`)
  const get = target.protocol === 'https:' ? (await import('node:https')).get : (await import('node:http')).get
  return await new Promise(resolve => {
    const request = get(target, { timeout: timeoutMs }, response => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { if (body.length < 4096) body += chunk })
      response.on('error', () => resolve('the connection broke'))
      response.on('end', () => {
        let status: unknown
        try { status = (JSON.parse(body) as { status?: unknown }).status } catch {}
        if (response.statusCode === 200 && status === 'ok') resolve(undefined)
        else if (status === 'stopping') resolve('the service is shutting down')
        else resolve(`something answers, but not a remotelog service (GET /healthz: HTTP ${response.statusCode ?? '?'})`)
      })
    })
    request.on('timeout', () => { request.destroy(); resolve(`no answer within ${timeoutMs / 1000} s`) })
    request.on('error', (e: NodeJS.ErrnoException) => resolve(`cannot connect (${e.code ?? e.message})`))
  })
}

/**
 * ENS, Hypercore, DNS and IPNS need a chain, a DHT, a DNS server, an IPNS routing: `init --ns ens --name alice` with no
 * profile uses the devnet running at the default place, if there is one (else the presets explain what is missing).
 */
async function runningDefaultDevnet (options: InitOptions): Promise<boolean> {
  if (options.ns !== 'ens' && options.ns !== 'hypercore' && options.ns !== 'dns' && options.ns !== 'ipns') return false
  const settings = await readDevnetSettings().catch(() => undefined)
  return settings !== undefined && devnetAlive(settings)
}

export function registerInit (program: Command): void {
  program.command('init')
    .description('create the state dir: keys, and a config with the embedded default backends (or a devnet\'s, or a service\'s)')
    .option('--cas <driver>', 'content store: local | helia | kubo | twirp (default: local; twirp with --remote)')
    .option('--ns <driver>', 'name system: local | ens | hypercore | dns | ipns | twirp (default: local; twirp with --remote)')
    .option('--profile <profile>', 'embedded (default) | devnet: wire the backends to a running `remotelog devnet` (chosen by itself for --ns ens|hypercore|dns|ipns when one runs at the default place)')
    .option('--devnet <file>', 'with --profile devnet: its settings file or folder (default: $REMOTELOG_DEVNET or ~/.local/share/remotelog/devnet)')
    .option('--remote <url>', 'a remote log service (`remotelog serve`) for both roles')
    .option('--token-file <file>', 'with --remote: a file holding the service\'s write token (or set $REMOTELOG_TOKEN)')
    .option('--token <token>', 'with --remote: the service\'s write token (visible in `ps`: prefer --token-file)')
    .option('--name <label>', 'name to claim for the default log where names are claimed (ENS: <label>.eth; default: the state dir\'s name)')
    .option('--store <dir>', 'the shared embedded store (default: $REMOTELOG_STORE or ~/.local/share/remotelog/store)')
    .option('--force', 'overwrite an existing config (keys are kept)')
    .action(async (options: InitOptions, command: Command) => {
      const g = globals(command)
      for (const [role, driver] of [['--cas', options.cas], ['--ns', options.ns]]) {
        // A memory store is gone when the command that made it exits: the next command would find nothing.
        if (driver === 'memory') throw fail('INVALID_CONFIG', `${role} memory: memory backends live only as long as one process (they are for library use and tests); the CLI needs backends that outlive each command — use local (the default)`)
      }
      await checkStateDir(g.dir)
      const remote = options.remote === undefined ? undefined : checkServiceUrl(options.remote)
      if ((options.token !== undefined || options.tokenFile !== undefined) && remote === undefined) throw fail('INVALID_INPUT', '--token and --token-file go with --remote')
      const token = remote === undefined ? undefined : await readSecret({ value: options.token, file: options.tokenFile, flag: '--token', fileFlag: '--token-file', env: 'REMOTELOG_TOKEN' })
      const profile = options.profile ?? (options.devnet !== undefined || await runningDefaultDevnet(options) ? 'devnet' : 'embedded')
      if (profile !== 'embedded' && profile !== 'devnet') throw fail('INVALID_INPUT', `unknown profile "${profile}" (embedded | devnet)`)
      if (options.devnet !== undefined && profile !== 'devnet') throw fail('INVALID_INPUT', '--devnet goes with --profile devnet')
      const path = configPath(g.dir, g.configFile)
      const exists = await access(path).then(() => true, () => false)
      if (exists && options.force !== true) throw fail('CONFLICT', `${path} exists (use --force to overwrite it; keys are kept)`)
      const devnet = profile === 'devnet' ? await readDevnetSettings(options.devnet) : undefined
      const config = initConfig({
        stateDir: g.dir,
        store: options.store ?? defaultStoreDir(),
        cas: options.cas,
        ns: options.ns,
        name: options.name,
        remote,
        token,
        devnet
      })
      // The state dir holds keys (and config.json a service's token): only its owner may read it.
      await mkdir(g.dir, { recursive: true, mode: 0o700 })
      await saveConfig(path, config)
      await new Keystore(g.dir).secret('default', { create: true })
      // The config is written either way (the service may start later), but a service that does not answer is said at once.
      const problem = remote === undefined ? undefined : await probeService(remote)
      if (problem !== undefined) warn(`the service at ${remote!} does not answer: ${problem}; appends are saved but not published until it does (start it with \`remotelog serve\`, or check the URL)`)
      output(g, { dir: g.dir, config: path, profile, cas: config.cas.driver, ns: config.ns.driver, name: config.name, ...(remote !== undefined ? { remote: { url: remote, answers: problem === undefined, ...(problem !== undefined ? { problem } : {}) } } : {}) }, v =>
        `initialized ${v.dir}\n  config: ${v.config}\n  profile: ${v.profile}; cas: ${v.cas}, ns: ${v.ns}${v.name !== undefined ? `; name: ${v.name}` : ''}` +
        (v.remote !== undefined ? `\n  service: ${v.remote.url} ${v.remote.answers ? 'answers' : 'does not answer'}` : ''))
    })
}
