import { FerryError } from "../errors";
import { charsetFor, decodeValue, type Charset } from "./charset";
import { unescapeToBytes } from "./escape";
import { warning, type Warning } from "../types";

/** A VMX file larger than this is not a VMX file (real ones are a few KiB). */
export const MAX_VMX_BYTES = 4 * 1024 * 1024;

/** One `key = "value"` line, decoded. */
export interface VmxEntry {
  /** The key as written (case kept, for messages and printing). */
  key: string;
  /** Lowercased key split on `.`; a colon is not a separator (`scsi0:0`). */
  path: string[];
  /** The value after unescaping and charset decoding. */
  value: string;
  /** 1-based line number in the file. */
  line: number;
}

export interface LexResult {
  entries: VmxEntry[];
  charset: Charset;
  /** Line of the `.encoding` entry, if any. */
  encodingLine: number | null;
  warnings: Warning[];
}

interface RawEntry {
  key: string;
  raw: string;
  line: number;
}

// Structure is matched on a one-char-per-byte view, so only ASCII white
// space counts: \s would also match byte 0xA0, the tail of UTF-8 "à".
const KEY_VALUE = /^([^ \t\v\f="#]+)[ \t]*=[ \t]*(.*)$/;
const trim = (s: string) => s.replace(/^[ \t\v\f]+|[ \t\v\f]+$/g, "");

function startsWith(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

function lineOfOffset(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** Refuse what is clearly not a VMX file, before looking at lines. */
function refuse(bytes: Uint8Array, file: string | null): void {
  if (bytes.length > MAX_VMX_BYTES) {
    throw new FerryError({
      code: "vmx.too-large",
      message: `file is ${bytes.length} bytes; a VMX file is at most ${MAX_VMX_BYTES} bytes (4 MiB)`,
      file,
      hint: "point Ferry at the guest's .vmx file, the small text file beside its disks",
    });
  }
  if (startsWith(bytes, "KDMV") || startsWith(bytes, "COWD")) {
    throw new FerryError({
      code: "vmx.is-vmdk",
      message: "this is a VMDK disk image, not a VMX file",
      file,
      hint: "give the guest's .vmx file; Ferry finds its disks from it",
    });
  }
  let start = 0;
  while (start < bytes.length && (bytes[start] === 0x20 || bytes[start] === 0x09 || bytes[start] === 0x0a || bytes[start] === 0x0d)) start++;
  if (startsWith(bytes.subarray(start), "# Disk DescriptorFile")) {
    throw new FerryError({
      code: "vmx.is-vmdk",
      message: "this is a VMDK disk descriptor, not a VMX file",
      file,
      line: lineOfOffset(bytes, start),
      hint: "give the guest's .vmx file; Ferry finds its disks from it",
    });
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new FerryError({
      code: "vmx.binary",
      message: `binary content (a NUL byte at offset ${nul}); a VMX file is text`,
      file,
      line: lineOfOffset(bytes, nul),
      hint: "check that this is the guest's .vmx file and that it is not damaged",
    });
  }
}

/**
 * Bytes → decoded entries. Structure is found on the raw bytes (read one
 * char per byte), then each value is unescaped and decoded with the charset
 * that `.encoding` names, wherever in the file that line is.
 */
export function lexVmx(input: Uint8Array, file: string | null = null): LexResult {
  refuse(input, file);
  const bytes = startsWith(input, "\xEF\xBB\xBF") ? input.subarray(3) : input;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const warnings: Warning[] = [];
  const raws: RawEntry[] = [];

  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    if (trim(line) === "") continue;
    const body = line.replace(/^[ \t]+/, "");
    if (body.startsWith("#")) continue;
    if (body !== line) {
      warnings.push(warning("vmx.syntax.indented", "line starts with white space; read anyway", lineNo));
    }
    const m = KEY_VALUE.exec(body);
    if (!m) {
      warnings.push(
        warning("vmx.syntax.not-key-value", `not a key = "value" line; skipped: ${preview(body)}`, lineNo),
      );
      continue;
    }
    const key = m[1]!;
    const rest = m[2]!;
    let raw: string;
    if (rest.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      if (close < 0) {
        raw = trim(rest.slice(1));
        warnings.push(
          warning("vmx.syntax.unterminated", `value of ${latin1ToText(key)} has no closing quote; read to the end of the line`, lineNo),
        );
      } else {
        raw = rest.slice(1, close);
        const after = trim(rest.slice(close + 1));
        if (after !== "") {
          warnings.push(
            warning("vmx.syntax.trailing-text", `text after the closing quote is ignored: ${preview(after)}`, lineNo),
          );
        }
      }
    } else {
      raw = trim(rest);
      warnings.push(
        warning("vmx.syntax.unquoted", `value of ${latin1ToText(key)} is not quoted; read as "${preview(raw)}"`, lineNo),
      );
    }
    raws.push({ key, raw, line: lineNo });
  }

  if (raws.length === 0) {
    throw new FerryError({
      code: "vmx.no-entries",
      message: 'no key = "value" line found; this is not a VMX file',
      file,
      hint: "point Ferry at the guest's .vmx file",
    });
  }

  const enc = raws.find((r) => r.key.toLowerCase() === ".encoding");
  const charset = charsetFor(enc ? latin1ToText(enc.raw) : null, enc?.line ?? null, warnings);

  const entries = raws.map((r): VmxEntry => {
    const key = decodeValue(binaryBytes(r.key), charset, r.line, warnings);
    return {
      key,
      path: key.toLowerCase().split("."),
      value: decodeValue(unescapeToBytes(r.raw), charset, r.line, warnings),
      line: r.line,
    };
  });
  return { entries, charset, encodingLine: enc?.line ?? null, warnings };
}

/** Keys are not escaped: their bytes as they are. */
function binaryBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** A binary string's ASCII view, for messages. */
function latin1ToText(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?");
}

function preview(s: string): string {
  const t = latin1ToText(s);
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}
