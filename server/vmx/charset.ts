import { warning, type Warning } from "../types";

/**
 * `.encoding` names the charset of every value in the file (VMware writes
 * UTF-8, windows-1252, Shift_JIS, GBK, ...). Anything TextDecoder knows is
 * accepted; an unknown name falls back to UTF-8 with a warning.
 */
export interface Charset {
  /** The name as the file wrote it (or "UTF-8" by default). */
  name: string;
  decoder: TextDecoder;
  lenient: TextDecoder;
}

export function charsetFor(label: string | null, line: number | null, warnings: Warning[]): Charset {
  const name = label?.trim() || "UTF-8";
  try {
    return {
      name,
      decoder: new TextDecoder(name, { fatal: true, ignoreBOM: true }),
      lenient: new TextDecoder(name, { fatal: false, ignoreBOM: true }),
    };
  } catch {
    warnings.push(
      warning("vmx.encoding.unknown", `unknown .encoding "${name}"; values are read as UTF-8`, line),
    );
    return {
      name: "UTF-8",
      decoder: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }),
      lenient: new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }),
    };
  }
}

/** Decode one value; bytes that are not valid in the charset become U+FFFD, with a warning. */
export function decodeValue(bytes: Uint8Array, charset: Charset, line: number, warnings: Warning[]): string {
  try {
    return charset.decoder.decode(bytes);
  } catch {
    warnings.push(
      warning(
        "vmx.encoding.invalid",
        `value is not valid ${charset.name}; unreadable bytes are shown as \uFFFD`,
        line,
      ),
    );
    return charset.lenient.decode(bytes);
  }
}
