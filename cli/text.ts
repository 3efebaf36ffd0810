/**
 * How `read` (and any command printing message text) shows a payload on one line.
 *
 * The payload is decoded as UTF-8 and printed as is, except:
 * - `\` → `\\`; LF → `\n`, TAB → `\t`, CR → `\r`;
 * - other C0 controls and DEL → `\xHH` (e.g. ESC → `\x1b`), and each byte that is not part of valid
 *   UTF-8 → `\xHH` (that byte): so `\xHH` always stands for one raw byte;
 * - C1 controls, U+2028/U+2029 (line/paragraph separators) and the bidi controls (U+061C, U+200E,
 *   U+200F, U+202A–U+202E, U+2066–U+2069) → `\uHHHH`;
 * - a `(` that starts the text → `\(`: printed text never starts with `(`, so a text field starting
 *   with `(` is a marker, such as the tombstone of a scrubbed message, `(scrubbed)`.
 * The escaped text never holds a control character, so one message is one line; it is reversible.
 * @example escapeText(new TextEncoder().encode('a\tb\x1b[2J')) // 'a\\tb\\x1b[2J'
 */
export function escapeText (payload: Uint8Array): string {
  if (isPlain(payload)) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1')
  let out = ''
  let i = 0
  const n = payload.length
  while (i < n) {
    const b = payload[i]
    if (b < 0x80) {
      out += escapeAscii(b, i === 0)
      i++
      continue
    }
    const [cp, len] = decodeOne(payload, i)
    if (cp < 0) {
      out += `\\x${hex2(b)}`
      i++
      continue
    }
    out += isInvisibleControl(cp) ? `\\u${cp.toString(16).padStart(4, '0')}` : String.fromCodePoint(cp)
    i += len
  }
  return out
}

/** Printable ASCII with no backslash and no leading `(`: printed unchanged. */
function isPlain (payload: Uint8Array): boolean {
  if (payload.length > 0 && payload[0] === 0x28) return false
  for (let i = 0; i < payload.length; i++) {
    const b = payload[i]
    if (b < 0x20 || b > 0x7e || b === 0x5c) return false
  }
  return true
}

function hex2 (b: number): string {
  return b.toString(16).padStart(2, '0')
}

function escapeAscii (b: number, first: boolean): string {
  switch (b) {
    case 0x5c: return '\\\\'
    case 0x0a: return '\\n'
    case 0x09: return '\\t'
    case 0x0d: return '\\r'
    case 0x28: return first ? '\\(' : '('
  }
  if (b < 0x20 || b === 0x7f) return `\\x${hex2(b)}`
  return String.fromCharCode(b)
}

/** C1 controls, line/paragraph separators and bidi controls: shown as `\uHHHH`. */
function isInvisibleControl (cp: number): boolean {
  return (cp >= 0x80 && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029 || cp === 0x061c || cp === 0x200e || cp === 0x200f ||
    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)
}

/** The code point of the UTF-8 sequence at `i` and its length; -1 when it is not valid UTF-8. */
function decodeOne (bytes: Uint8Array, i: number): [number, number] {
  const b = bytes[i]
  let len: number
  let cp: number
  let min: number
  if (b >= 0xc2 && b <= 0xdf) { len = 2; cp = b & 0x1f; min = 0x80 } else if (b >= 0xe0 && b <= 0xef) { len = 3; cp = b & 0x0f; min = 0x800 } else if (b >= 0xf0 && b <= 0xf4) { len = 4; cp = b & 0x07; min = 0x10000 } else return [-1, 1]
  if (i + len > bytes.length) return [-1, 1]
  for (let k = 1; k < len; k++) {
    const c = bytes[i + k]
    if ((c & 0xc0) !== 0x80) return [-1, 1]
    cp = (cp << 6) | (c & 0x3f)
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1]
  return [cp, len]
}
