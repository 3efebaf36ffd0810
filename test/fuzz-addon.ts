import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/**
 * Jazzer.js 4.0.0 ships its libFuzzer addon prebuilt (`prebuilds/fuzzer-linux-x64.node`), built
 * with glibc 2.38 and GCC 13; Debian 12 has glibc 2.36 and GCC 12's libstdc++, so loading it fails
 * ("version `GLIBC_2.38' not found"). It needs exactly three newer symbols:
 * - `__isoc23_strtol` and `__isoc23_strtoul` (GLIBC_2.38): what glibc 2.38 headers map `strtol` and
 *   `strtoul` to; the C23 variants differ only in also accepting a `0b` prefix. libFuzzer parses
 *   its own flags with them.
 * - `std::ios_base_library_init()` (GLIBCXX_3.4.32): GCC 13's <iostream> references it only to
 *   pull in libstdc++'s stream setup; no relocation uses it.
 * The 2.x line builds from source instead, but its CMake build downloads a patched LLVM from
 * GitHub, which this machine cannot reach. So, when the prebuild does not load, this writes a copy
 * of it where Jazzer.js looks first (`dist/prebuilds/`, see its `dist/addon.js`) with the two C23
 * references pointed at plain `strtol`/`strtoul` (same name strings, 9 bytes further: `__isoc23_`
 * is a prefix) unversioned, `ios_base_library_init` made a weak unversioned reference, and the
 * GLIBC_2.38 and GLIBCXX_3.4.32 requirements marked weak. The shipped file stays as it is; a
 * machine whose libraries are new enough loads it directly and nothing is written.
 */

const require = createRequire(import.meta.url)
const SHT_DYNSYM = 11
const SHT_GNU_VERNEED = 0x6ffffffe
const SHT_GNU_VERSYM = 0x6fffffff
const VER_FLG_WEAK = 2
const C23 = ['__isoc23_strtol', '__isoc23_strtoul']
/** GCC 13's <iostream> references it only to pull in libstdc++'s stream setup: no relocation uses it. */
const IOS_INIT = '_ZSt21ios_base_library_initv'
const NEWER = ['GLIBC_2.38', 'GLIBCXX_3.4.32']

function cString (buf: Buffer, at: number): string {
  return buf.toString('latin1', at, buf.indexOf(0, at))
}

/** The addon bytes with the glibc 2.38 references made loadable on glibc 2.36; the count of changes. */
export function patchC23References (elf: Buffer): { bytes: Buffer, changed: number } {
  const out = Buffer.from(elf)
  if (out.readUInt32BE(0) !== 0x7f454c46 || out[4] !== 2 || out[5] !== 1) throw new Error('not a 64-bit little-endian ELF file')
  const shoff = Number(out.readBigUInt64LE(0x28))
  const shentsize = out.readUInt16LE(0x3a)
  const shnum = out.readUInt16LE(0x3c)
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize
    return {
      type: out.readUInt32LE(at + 4),
      offset: Number(out.readBigUInt64LE(at + 0x18)),
      size: Number(out.readBigUInt64LE(at + 0x20)),
      link: out.readUInt32LE(at + 0x28),
      info: out.readUInt32LE(at + 0x2c)
    }
  })
  const dynsym = sections.find(s => s.type === SHT_DYNSYM)
  const versym = sections.find(s => s.type === SHT_GNU_VERSYM)
  const verneed = sections.find(s => s.type === SHT_GNU_VERNEED)
  if (dynsym === undefined || versym === undefined || verneed === undefined) throw new Error('no dynamic symbol versions')
  const dynstr = sections[dynsym.link]
  let changed = 0
  for (let i = 0; i < dynsym.size / 24; i++) {
    const at = dynsym.offset + i * 24
    const name = out.readUInt32LE(at)
    const symbol = cString(out, dynstr.offset + name)
    if (C23.includes(symbol)) {
      out.writeUInt32LE(name + '__isoc23_'.length, at) // "strtol" / "strtoul"
      out.writeUInt16LE(1, versym.offset + i * 2) // unversioned: the default strtol@@GLIBC_2.2.5
      changed++
    } else if (symbol === IOS_INIT) {
      out[at + 4] = (2 << 4) | (out[at + 4] & 0xf) // STB_WEAK: may stay undefined
      out.writeUInt16LE(1, versym.offset + i * 2)
      changed++
    }
  }
  let need = verneed.offset
  for (let n = 0; n < verneed.info; n++) {
    let aux = need + out.readUInt32LE(need + 8)
    for (let a = 0; a < out.readUInt16LE(need + 2); a++) {
      if (NEWER.includes(cString(out, dynstr.offset + out.readUInt32LE(aux + 8)))) {
        out.writeUInt16LE(out.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4)
        changed++
      }
      aux += out.readUInt32LE(aux + 12)
    }
    const next = out.readUInt32LE(need + 12)
    if (next === 0) break
    need += next
  }
  return { bytes: out, changed }
}

/**
 * Makes sure Jazzer.js's addon loads here; returns what was done. Throws with the loader's reason
 * when it cannot be made to load.
 */
export async function ensureFuzzerAddon (): Promise<string> {
  const addonJs = require.resolve('@jazzer.js/fuzzer/dist/addon.js')
  const name = `fuzzer-${process.platform}-${process.arch}.node`
  const shipped = join(dirname(addonJs), '..', 'prebuilds', name)
  const patched = join(dirname(addonJs), 'prebuilds', name)
  // Tried in a child process: a native addon loaded once stays in this one.
  const loads = (path: string): string | undefined => {
    const child = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path)})`], { encoding: 'utf8' })
    if (child.status === 0) return undefined
    return /Error: (.*)/.exec(child.stderr)?.[1] ?? child.stderr.trim().split('\n').at(-1) ?? `exit ${String(child.status)}`
  }
  if (existsSync(patched)) {
    const reason = loads(patched)
    if (reason === undefined) return `using ${patched}`
    throw new Error(`the patched Jazzer.js addon does not load: ${reason}`)
  }
  const reason = loads(shipped)
  if (reason === undefined) return `using ${shipped}`
  if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(reason)) throw new Error(`the Jazzer.js addon does not load: ${reason}`)
  const { bytes, changed } = patchC23References(await readFile(shipped))
  if (changed === 0) throw new Error(`the Jazzer.js addon does not load (${reason}) and has no C23 references to redirect`)
  await mkdir(dirname(patched), { recursive: true })
  const temp = `${patched}.${process.pid}.tmp.node`
  await writeFile(temp, bytes)
  const still = loads(temp)
  if (still !== undefined) throw new Error(`the Jazzer.js addon does not load (${reason}), nor with its glibc 2.38 references redirected: ${still}`)
  await rename(temp, patched)
  return `wrote ${patched}: the shipped addon needs glibc 2.38; ${changed} references redirected`
}
