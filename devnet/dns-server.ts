import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fail } from '../core/errors.js'
import type { TsigKey } from '../adapters/ns/dns-tsig.js'

/** What a running `named` serves: everything the `dns` NS config needs. */
export interface DnsServerSettings {
  /** `127.0.0.1:PORT`, UDP and TCP. */
  server: string
  /** The zone it is authoritative for, with dynamic updates allowed for `tsig`. */
  zone: string
  tsig: TsigKey
  /** The `named` process. */
  pid: number
}

export interface DnsServerOptions {
  /**
   * Folder for the config, zone file and journal. Kept (with the zone's records and the key) when
   * given, so a restart in the same folder serves the same records; a temp folder removed on
   * `stop()` otherwise.
   */
  dir?: string
  /** Default `remotelog.test` (`.test` is reserved for testing, RFC 2606: never a real zone). */
  zone?: string
  /** Default `remotelog-devnet.` */
  keyName?: string
  /** Port on 127.0.0.1; 0 (default) picks a free one (UDP and TCP). */
  port?: number
  /** How long to wait for `named` to answer. Default 15 s. */
  timeoutMs?: number
}

/** A running BIND 9 `named`. */
export interface DnsServer extends DnsServerSettings {
  /** The folder of its config, zone, journal and key. */
  dir: string
  /** Stops `named` (SIGTERM: it writes its journal and exits) and waits for it. */
  stop (): Promise<void>
}

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/sbin']

/**
 * Where BIND's `named` is, or undefined when it is not installed (`node scripts/ensure-test-tools.mjs`
 * installs Debian's bind9).
 * @example if (await findNamed() === undefined) console.log('no named: skipping the dns backend')
 */
export async function findNamed (): Promise<string | undefined> {
  for (const dir of [...SEARCH, ...(process.env.PATH ?? '').split(delimiter)]) {
    if (dir === '') continue
    const file = join(dir, 'named')
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file
  }
  return undefined
}

/** A port free for both UDP and TCP on 127.0.0.1 (named listens on both). */
async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = createServer()
    tcp.listen(0, '127.0.0.1')
    await once(tcp, 'listening')
    const port = (tcp.address() as AddressInfo).port
    const udp = createSocket('udp4')
    const free = await new Promise<boolean>(resolve => {
      udp.once('error', () => resolve(false))
      udp.bind(port, '127.0.0.1', () => resolve(true))
    })
    await new Promise<void>(resolve => udp.close(() => resolve()))
    await new Promise<void>(resolve => tcp.close(() => resolve()))
    if (free) return port
  }
  throw fail('UNAVAILABLE', 'no port free for both UDP and TCP on 127.0.0.1', { backend: 'dns' })
}

function namedConf (dir: string, port: number, zone: string, key: TsigKey): string {
  const q = (s: string): string => JSON.stringify(s)
  return `# written by remotelog devnet/dns-server.ts: a throwaway authoritative server on 127.0.0.1
options {
  directory ${q(dir)};
  pid-file ${q(join(dir, 'named.pid'))};
  session-keyfile ${q(join(dir, 'session.key'))};
  managed-keys-directory ${q(dir)};
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-query { 127.0.0.1; };
  allow-transfer { none; };
};
controls { };
key ${q(key.name)} {
  algorithm ${key.algorithm};
  secret ${q(key.secret)};
};
zone ${q(zone)} {
  type primary;
  file ${q(join(dir, `${zone}.zone`))};
  journal ${q(join(dir, `${zone}.zone.jnl`))};
  // The key may change TXT records anywhere in the zone, nothing else.
  update-policy { grant ${key.name} zonesub TXT; };
};
`
}

function zoneFile (zone: string): string {
  return `$TTL 60
@   IN SOA ns.${zone}. hostmaster.${zone}. ( 1 3600 600 86400 5 )
@   IN NS  ns.${zone}.
ns  IN A   127.0.0.1
`
}

async function exists (file: string): Promise<boolean> {
  return await access(file).then(() => true, () => false)
}

/**
 * Starts BIND 9's `named` in the foreground (`named -g`) as an authoritative server for one zone on
 * 127.0.0.1, with RFC 2136 dynamic updates allowed for one TSIG key (HMAC-SHA256, TXT records
 * only). Everything lives in one folder: no system config is read or changed. `named` ends with
 * `stop()`, when this process exits, and (through a small watchdog) if this process is killed.
 * @example
 * const dns = await startDnsServer()
 * const ns = dnsNs({ server: dns.server, zone: dns.zone, tsig: dns.tsig })
 * await dns.stop()
 */
export async function startDnsServer (options: DnsServerOptions = {}): Promise<DnsServer> {
  const named = await findNamed()
  if (named === undefined) throw fail('UNAVAILABLE', 'BIND 9 `named` is not installed (run: node scripts/ensure-test-tools.mjs, or: apt-get install bind9)', { backend: 'dns' })
  const zone = (options.zone ?? 'remotelog.test').replace(/\.$/, '').toLowerCase()
  const temporary = options.dir === undefined
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'remotelog-named-'))
  await mkdir(dir, { recursive: true, mode: 0o700 })

  // The key is kept beside the zone: a devnet restarted in its folder keeps its records and key.
  const keyFile = join(dir, 'tsig.json')
  const key: TsigKey = await exists(keyFile)
    ? JSON.parse(await readFile(keyFile, 'utf8')) as TsigKey
    : { name: options.keyName ?? 'remotelog-devnet.', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') }
  await writeFile(keyFile, JSON.stringify(key), { mode: 0o600 })
  const zonePath = join(dir, `${zone}.zone`)
  if (!(await exists(zonePath))) await writeFile(zonePath, zoneFile(zone))

  const timeoutMs = options.timeoutMs ?? 15_000
  let lastError: unknown
  // A port found free can be taken before named binds it: try a few.
  for (let attempt = 0; attempt < (options.port !== undefined && options.port !== 0 ? 1 : 3); attempt++) {
    const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort()
    const conf = join(dir, 'named.conf')
    await writeFile(conf, namedConf(dir, port, zone, key), { mode: 0o600 })
    try {
      const child = await runNamed(named, conf, timeoutMs)
      return running(child, dir, { server: `127.0.0.1:${port}`, zone, tsig: key, pid: child.pid! }, temporary)
    } catch (e) {
      lastError = e
    }
  }
  if (temporary) await rm(dir, { recursive: true, force: true })
  throw lastError
}

/** Spawns `named -g` and resolves once it says it is running; rejects with its output when it exits first. */
async function runNamed (named: string, conf: string, timeoutMs: number): Promise<ChildProcess> {
  // -g: foreground, log to stderr; -n 1: one worker thread (tests share a few cores); -4: IPv4 only.
  // As root, -u root keeps named from switching to Debian's `bind` user, which cannot read a temp folder.
  const args = ['-g', '-4', '-n', '1', '-c', conf]
  if (process.getuid?.() === 0) args.push('-u', 'root')
  const child = spawn(named, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(fail('TIMEOUT', `named did not start within ${timeoutMs} ms: ${output.slice(-800)}`, { backend: 'dns' })), timeoutMs)
      const onData = (chunk: Buffer): void => {
        output += chunk.toString()
        if (/^.*running$/m.test(output)) { clearTimeout(timer); resolve() }
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      child.once('error', cause => { clearTimeout(timer); reject(fail('UNAVAILABLE', 'cannot start named', { backend: 'dns', cause })) })
      child.once('exit', code => { clearTimeout(timer); reject(fail('UNAVAILABLE', `named exited (${String(code)}): ${output.slice(-800)}`, { backend: 'dns' })) })
    })
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
    throw e
  }
  // Keep draining its log so named never blocks on a full pipe.
  child.stdout!.removeAllListeners('data').resume()
  child.stderr!.removeAllListeners('data').resume()
  child.removeAllListeners('exit')
  return child
}

function running (child: ChildProcess, dir: string, settings: DnsServerSettings, temporary: boolean): DnsServer {
  const removeDir = temporary ? dir : undefined
  // If this process is killed (no 'exit' handler runs), the watchdog sees its stdin close, ends named
  // and removes a temp folder.
  const script = 'read _ ; kill -TERM "$1" 2>/dev/null ; if [ -n "$2" ]; then sleep 1 ; rm -rf -- "$2" ; fi'
  const watchdog = spawn('/bin/sh', ['-c', script, 'watchdog', String(child.pid!), removeDir ?? ''], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
  watchdog.on('error', () => {})
  watchdog.unref()
  ;(watchdog.stdin as Socket | null)?.unref()
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit').then(() => {})
  let stopping: Promise<void> | undefined
  return {
    ...settings,
    dir,
    async stop () {
      stopping ??= (async () => {
        process.removeListener('exit', killOnExit)
        watchdog.kill('SIGKILL')
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          await exited
          clearTimeout(timer)
        }
        if (removeDir !== undefined) await rm(removeDir, { recursive: true, force: true })
      })()
      await stopping
    }
  }
}
