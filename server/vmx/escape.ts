/**
 * VMX quoting: inside a value, `|` followed by two hex digits stands for that
 * byte (`|22` is `"`, `|7C` is `|`, `|0A` a newline); any other `|` is
 * literal. Escapes are undone on bytes, before the charset is applied, so an
 * escaped multi-byte character decodes correctly.
 */

const HEX = /^[0-9a-fA-F]{2}$/;

/** `raw` is a binary string (one char per byte, as read with latin1). */
export function unescapeToBytes(raw: string): Uint8Array {
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x7c /* | */ && HEX.test(raw.slice(i + 1, i + 3))) {
      out[n++] = parseInt(raw.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** Characters VMware itself escapes when it writes a value. */
function needsEscape(code: number): boolean {
  return code < 0x20 || code === 0x7f || code === 0x22 /* " */ || code === 0x7c /* | */ || code === 0x23 /* # */;
}

/** The inverse, for printing a value back as UTF-8 VMX text. */
export function escapeValue(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    out += needsEscape(code) ? `|${code.toString(16).toUpperCase().padStart(2, "0")}` : ch;
  }
  return out;
}
