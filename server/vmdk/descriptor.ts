import { FerryError } from "../errors";
import { warning, type Warning } from "../types";

/**
 * The text descriptor of a VMDK: header keys, extent lines and the disk
 * database (`ddb.*`). Pure: text in, data out, errors naming file and line.
 */

export const MAX_DESCRIPTOR_BYTES = 1024 * 1024;
export const MAX_EXTENTS = 2048;
/** CID meaning "no parent". */
export const NO_PARENT = "ffffffff";

export type ExtentAccess = "RW" | "RDONLY" | "NOACCESS";
export type ExtentType = "FLAT" | "SPARSE" | "ZERO" | "VMFS" | "VMFSSPARSE" | "VMFSRDM" | "VMFSRAW" | "SESPARSE";

export interface DescriptorExtent {
  access: ExtentAccess;
  sectors: number;
  type: ExtentType;
  /** The file name exactly as written; null for ZERO extents. */
  file: string | null;
  /** Offset in sectors into the file (FLAT/VMFS), else 0. */
  offset: number;
  line: number;
}

export interface Descriptor {
  version: number | null;
  cid: string | null;
  parentCid: string | null;
  createType: string | null;
  parentFileNameHint: string | null;
  encoding: string;
  extents: DescriptorExtent[];
  /** `ddb.*` keys, lowercased, with their values. */
  ddb: Record<string, string>;
  /** Line of each header key, lowercased, for errors and provenance. */
  lines: Record<string, number>;
  warnings: Warning[];
}

const EXTENT = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(FLAT|SPARSE|ZERO|VMFS|VMFSSPARSE|VMFSRDM|VMFSRAW|SESPARSE)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/i;
const KEY_VALUE = /^([A-Za-z][\w.]*)\s*=\s*(.*)$/;

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

export function looksLikeDescriptor(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 64)).toString("latin1");
  return /^\s*# Disk DescriptorFile/.test(head);
}

/** Descriptor bytes (a file, or the text embedded in a sparse header) → Descriptor. */
export function parseDescriptor(input: Uint8Array, file: string): Descriptor {
  if (input.byteLength > MAX_DESCRIPTOR_BYTES) {
    throw new FerryError({
      code: "vmdk.descriptor-too-large",
      message: `descriptor is ${input.byteLength} bytes; a VMDK descriptor is at most 1 MiB`,
      file,
      hint: "this is not a VMware disk descriptor; check the guest's files",
    });
  }
  // An embedded descriptor is padded with NULs; the text ends at the first.
  const nul = input.indexOf(0);
  const bytes = nul >= 0 ? input.subarray(0, nul) : input;
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const encMatch = /^\s*encoding\s*=\s*"?([^"\r\n]+)"?\s*$/im.exec(latin1);
  const encoding = encMatch ? encMatch[1]!.trim() : "UTF-8";
  let text: string;
  const warnings: Warning[] = [];
  try {
    text = new TextDecoder(encoding, { fatal: false }).decode(bytes);
  } catch {
    warnings.push(warning("vmdk.encoding.unknown", `unknown encoding "${encoding}"; read as UTF-8`));
    text = new TextDecoder("utf-8").decode(bytes);
  }

  const d: Descriptor = {
    version: null,
    cid: null,
    parentCid: null,
    createType: null,
    parentFileNameHint: null,
    encoding,
    extents: [],
    ddb: {},
    lines: {},
    warnings,
  };
  const lines = text.split(/\r\n|\n|\r/);
  let sawHeader = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      if (/^# Disk DescriptorFile/i.test(line)) sawHeader = true;
      continue;
    }
    const ext = EXTENT.exec(line);
    if (ext) {
      if (d.extents.length >= MAX_EXTENTS) {
        throw new FerryError({
          code: "vmdk.too-many-extents",
          message: `more than ${MAX_EXTENTS} extents`,
          file,
          line: lineNo,
          hint: "a real VMDK has at most a few hundred extents; this descriptor is damaged or hostile",
        });
      }
      const type = ext[3]!.toUpperCase() as ExtentType;
      const name = ext[4];
      if (type !== "ZERO" && name === undefined) {
        throw new FerryError({ code: "vmdk.extent.syntax", message: `${type} extent without a file name`, file, line: lineNo, hint: "the descriptor is damaged" });
      }
      const sectors = Number(ext[2]);
      const offset = ext[5] !== undefined ? Number(ext[5]) : 0;
      if (!Number.isSafeInteger(sectors) || !Number.isSafeInteger(offset)) {
        throw new FerryError({ code: "vmdk.extent.syntax", message: "extent size or offset is too large", file, line: lineNo, hint: "the descriptor is damaged" });
      }
      d.extents.push({ access: ext[1]!.toUpperCase() as ExtentAccess, sectors, type, file: name ?? null, offset, line: lineNo });
      continue;
    }
    const kv = KEY_VALUE.exec(line);
    if (!kv) {
      if (/^(RW|RDONLY|NOACCESS)\b/i.test(line)) {
        throw new FerryError({ code: "vmdk.extent.syntax", message: `extent line not understood: ${line.slice(0, 80)}`, file, line: lineNo, hint: 'expected ACCESS SECTORS TYPE "FILE" [OFFSET]' });
      }
      d.warnings.push(warning("vmdk.syntax.skipped", `line not understood; skipped: ${line.slice(0, 60)}`, lineNo));
      continue;
    }
    const key = kv[1]!.toLowerCase();
    const value = unquote(kv[2]!);
    if (key in d.lines) {
      d.warnings.push(warning("vmdk.syntax.duplicate", `${kv[1]} is set again; the first value (line ${d.lines[key]}) is kept`, lineNo));
      continue;
    }
    d.lines[key] = lineNo;
    if (key.startsWith("ddb.")) d.ddb[key] = value;
    else if (key === "version") d.version = /^\d+$/.test(value) ? Number(value) : null;
    else if (key === "cid") d.cid = value.toLowerCase();
    else if (key === "parentcid") d.parentCid = value.toLowerCase();
    else if (key === "createtype") d.createType = value;
    else if (key === "parentfilenamehint") d.parentFileNameHint = value;
  }
  if (!sawHeader && d.extents.length === 0) {
    throw new FerryError({ code: "vmdk.not-a-descriptor", message: "not a VMDK descriptor (no '# Disk DescriptorFile' line, no extent)", file, line: 1, hint: "give the disk's small NAME.vmdk descriptor, not a data file" });
  }
  if (d.createType === null) {
    throw new FerryError({ code: "vmdk.no-create-type", message: "descriptor has no createType", file, hint: "the descriptor is damaged" });
  }
  if (d.extents.length === 0) {
    throw new FerryError({ code: "vmdk.no-extents", message: "descriptor lists no extent", file, line: d.lines["createtype"] ?? null, hint: "the descriptor is damaged" });
  }
  return d;
}

/** Disk types whose data lives in the one file that also holds their descriptor. */
const SELF_CONTAINED = new Set(["monolithicsparse", "streamoptimized"]);

/**
 * For a descriptor embedded in a sparse file: the extent that is that file
 * itself, or null. VMware and qemu-img read a monolithicSparse or
 * streamOptimized file as its own single SPARSE extent whatever name the
 * extent line carries, and a disk renamed by hand keeps its old name there.
 */
export function selfExtent(d: Descriptor): DescriptorExtent | null {
  if (!SELF_CONTAINED.has((d.createType ?? "").toLowerCase()) || d.extents.length !== 1) return null;
  const e = d.extents[0]!;
  return e.type === "SPARSE" ? e : null;
}
