import { FerryError } from "../errors";

/**
 * Per-guest OVMF variables: a copy of OVMF's variables template (the flash
 * image qemu maps as the second pflash) with the guest's boot entries in
 * it, so the firmware boots the guest's own loader (\EFI\debian\shimx64.efi)
 * the way the guest's NVRAM did on VMware, rather than relying on the
 * removable-media fallback \EFI\BOOT\BOOTX64.EFI, which many installs lack.
 * Pure: bytes in, bytes out; errors are FerryErrors coded uefi-vars.*.
 *
 * The layout (edk2's FirmwareVolumeHeader.h, VariableFormat.h,
 * AuthenticatedVariableFormat.h; the UEFI specification's EFI_LOAD_OPTION
 * and device paths):
 *
 *   firmware volume header (signature "_FVH" at 40, FileSystemGuid
 *   EFI_SYSTEM_NV_DATA_FV_GUID, HeaderLength, a 16-bit checksum)
 *   variable store header at HeaderLength: Signature (the authenticated
 *   variable GUID), Size (header included), Format 0x5a, State 0xfe
 *   variables, each at a 4-byte boundary: a 60-byte authenticated header
 *   (StartId 0x55AA, State, Attributes, MonotonicCount, TimeStamp,
 *   PubKeyIndex, NameSize, DataSize, VendorGuid), the UCS-2 name with its
 *   NUL, the data; the free space after the last one is erased flash (0xff).
 *
 * Variables are written as edk2 writes them: State VAR_ADDED, attributes
 * NV|BS|RT, no authentication. A Boot#### or BootOrder the template already
 * holds is marked deleted first, so exactly one copy is live.
 */

export interface UefiBootEntry {
  /** What the firmware's boot menu shows ("debian"). */
  description: string;
  /** The ESP: GPT partition number (1-based), start and size in 512-byte LBAs, unique partition GUID. */
  partition: { number: number; startLba: number; sizeLba: number; guid: string };
  /** The loader on the ESP, with backslashes: \EFI\debian\shimx64.efi. */
  path: string;
}

export interface BootEntryRead {
  /** Boot0000 → 0. */
  number: number;
  name: string;
  active: boolean;
  description: string;
  /** The device path as OVMF prints it: HD(1,GPT,GUID,0x800,0x100000)/\EFI\debian\shimx64.efi. */
  devicePath: string;
  /** When the path is HD(GPT)/File: the partition and the file. */
  partition: UefiBootEntry["partition"] | null;
  path: string | null;
}

/** A template Ferry does not understand (or a damaged one), a full store, or a malformed entry. */
function fail(code: "template" | "full" | "entry", message: string): never {
  throw new FerryError({ code: `uefi-vars.${code}`, message, file: null, hint: code === "entry" ? null : "use Debian's OVMF_VARS_4M.fd (or OVMF_VARS_4M.ms.fd for Secure Boot) from the ovmf package as the template" });
}

const EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
const NV_DATA_FV = "fff12b8d-7696-4c8b-a985-2747075b4f50";
const AUTHENTICATED_VARIABLE = "aaf32c78-947b-439a-a180-2e144ec37792";
const PLAIN_VARIABLE = "ddcf3616-3275-4164-98b6-fe85707ffe7d";

const VARIABLE_DATA = 0x55aa;
const VAR_IN_DELETED_TRANSITION = 0xfe;
const VAR_DELETED = 0xfd;
const VAR_ADDED = 0x3f;
const NV_BS_RT = 0x1 | 0x2 | 0x4;
const LOAD_OPTION_ACTIVE = 0x1;
const AUTH_HEADER = 60;
const STORE_HEADER = 28;

const align4 = (n: number) => (n + 3) & ~3;

export function guidBytes(guid: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(guid);
  if (!m) fail("entry", `"${guid}" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  const b = Buffer.alloc(16);
  b.writeUInt32LE(parseInt(m[1]!, 16), 0);
  b.writeUInt16LE(parseInt(m[2]!, 16), 4);
  b.writeUInt16LE(parseInt(m[3]!, 16), 6);
  Buffer.from(m[4]! + m[5]!, "hex").copy(b, 8);
  return b;
}

export function guidText(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, 16);
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  const tail = buf.subarray(8, 16).toString("hex");
  return `${hex(buf.readUInt32LE(0), 8)}-${hex(buf.readUInt16LE(4), 4)}-${hex(buf.readUInt16LE(6), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`.toUpperCase();
}

const ucs2 = (s: string) => Buffer.from(s + "\0", "utf16le");

interface Store {
  /** Offset of the first variable. */
  start: number;
  /** Offset just past the store (FV header + store size). */
  end: number;
}

interface Variable {
  offset: number;
  state: number;
  attributes: number;
  name: string;
  guid: string;
  data: Buffer;
  /** Where the next variable's header starts. */
  next: number;
}

/** Check the firmware volume and variable store headers; throws uefi-vars.template saying what it found instead. */
function parseStore(vars: Buffer): Store {
  if (vars.length < 128) fail("template", `an OVMF variables file is at least a firmware volume header and a variable store header; this is ${vars.length} bytes`);
  if (vars.toString("latin1", 40, 44) !== "_FVH") fail("template", "not an OVMF variables file: no firmware volume signature (_FVH) at offset 40");
  const fsGuid = guidText(vars.subarray(16, 32)).toLowerCase();
  if (fsGuid !== NV_DATA_FV) fail("template", `not an OVMF variables file: the firmware volume is ${fsGuid}, not the NV data volume ${NV_DATA_FV}`);
  const fvLength = Number(vars.readBigUInt64LE(32));
  const headerLength = vars.readUInt16LE(48);
  if (fvLength > vars.length || headerLength < 56 || headerLength + STORE_HEADER > vars.length) fail("template", `the firmware volume header is inconsistent (length ${fvLength}, header ${headerLength}, file ${vars.length} bytes)`);
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum = (sum + vars.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) fail("template", "the firmware volume header's checksum is wrong: the file is damaged");
  const storeGuid = guidText(vars.subarray(headerLength, headerLength + 16)).toLowerCase();
  if (storeGuid === PLAIN_VARIABLE) fail("template", "this variable store is not authenticated (gEfiVariableGuid): only OVMF's authenticated variable store (OVMF_VARS_4M.fd, OVMF_VARS_4M.ms.fd) is supported");
  if (storeGuid !== AUTHENTICATED_VARIABLE) fail("template", `unknown variable store ${storeGuid} after the firmware volume header`);
  const size = vars.readUInt32LE(headerLength + 16);
  const format = vars[headerLength + 20];
  const state = vars[headerLength + 21];
  if (format !== 0x5a || state !== 0xfe) fail("template", `the variable store is not formatted and healthy (format 0x${format?.toString(16)}, state 0x${state?.toString(16)})`);
  const end = headerLength + size;
  if (end > fvLength) fail("template", `the variable store (${size} bytes) runs past the firmware volume (${fvLength} bytes)`);
  return { start: align4(headerLength + STORE_HEADER), end };
}

/** Every variable header in the store, valid or deleted, in order; stops at erased flash. */
function variables(vars: Buffer, store: Store): Variable[] {
  const out: Variable[] = [];
  let p = store.start;
  while (p + AUTH_HEADER <= store.end && vars.readUInt16LE(p) === VARIABLE_DATA) {
    const nameSize = vars.readUInt32LE(p + 36);
    const dataSize = vars.readUInt32LE(p + 40);
    const nameAt = p + AUTH_HEADER;
    const dataAt = nameAt + nameSize;
    if (nameSize > store.end || dataSize > store.end || dataAt + dataSize > store.end) fail("template", `the variable at offset ${p} runs past the end of the store: the file is damaged`);
    out.push({
      offset: p,
      state: vars[p + 2]!,
      attributes: vars.readUInt32LE(p + 4),
      name: vars.toString("utf16le", nameAt, dataAt).replace(/\0+$/, ""),
      guid: guidText(vars.subarray(p + 44, p + 60)).toLowerCase(),
      data: vars.subarray(dataAt, dataAt + dataSize),
      next: align4(dataAt + dataSize),
    });
    p = align4(dataAt + dataSize);
  }
  return out;
}

/** Live: VAR_ADDED, possibly also marked in deleted transition (edk2 still reads those until the new copy lands). */
const live = (v: Variable) => v.state === VAR_ADDED || v.state === (VAR_ADDED & VAR_IN_DELETED_TRANSITION);

function variable(name: string, guid: string, data: Buffer): Buffer {
  const n = ucs2(name);
  const head = Buffer.alloc(AUTH_HEADER);
  head.writeUInt16LE(VARIABLE_DATA, 0);
  head[2] = VAR_ADDED;
  head.writeUInt32LE(NV_BS_RT, 4);
  // MonotonicCount, TimeStamp and PubKeyIndex stay zero: not an authenticated write.
  head.writeUInt32LE(n.length, 36);
  head.writeUInt32LE(data.length, 40);
  guidBytes(guid).copy(head, 44);
  return Buffer.concat([head, n, data]);
}

function devicePathNode(type: number, subType: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = type;
  head[1] = subType;
  head.writeUInt16LE(4 + body.length, 2);
  return Buffer.concat([head, body]);
}

/** EFI_LOAD_OPTION: active, the description, HD(GPT partition)/File(path)/End. */
export function loadOption(entry: UefiBootEntry): Buffer {
  const { number, startLba, sizeLba, guid } = entry.partition;
  if (!Number.isInteger(number) || number < 1 || number > 0xffffffff) fail("entry", `partition number ${number} is not a GPT partition number (1 or more)`);
  if (!Number.isSafeInteger(startLba) || startLba < 1 || !Number.isSafeInteger(sizeLba) || sizeLba < 1) fail("entry", `partition ${number}: start ${startLba} and size ${sizeLba} must be positive LBAs`);
  if (!entry.path.startsWith("\\") || entry.path.includes("/")) fail("entry", `the loader path "${entry.path}" must start with a backslash and use backslashes (\\EFI\\debian\\shimx64.efi)`);
  if (!entry.description) fail("entry", "a boot entry needs a description");
  const hd = Buffer.alloc(38);
  hd.writeUInt32LE(number, 0);
  hd.writeBigUInt64LE(BigInt(startLba), 4);
  hd.writeBigUInt64LE(BigInt(sizeLba), 12);
  guidBytes(guid).copy(hd, 20);
  hd[36] = 0x02; // MBRType: GPT
  hd[37] = 0x02; // SignatureType: GUID
  const path = Buffer.concat([devicePathNode(0x04, 0x01, hd), devicePathNode(0x04, 0x04, ucs2(entry.path)), devicePathNode(0x7f, 0xff, Buffer.alloc(0))]);
  const head = Buffer.alloc(6);
  head.writeUInt32LE(LOAD_OPTION_ACTIVE, 0);
  head.writeUInt16LE(path.length, 4);
  return Buffer.concat([head, ucs2(entry.description), path]);
}

const bootName = (n: number) => `Boot${n.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * The template with Boot0000, Boot0001, … (one per entry, in order) and a
 * BootOrder listing them in that order. Throws a FerryError (uefi-vars.template, .full, .entry) for a template
 * it does not understand or without room for them.
 */
export function withBootEntries(template: Buffer, entries: UefiBootEntry[]): Buffer {
  if (entries.length === 0) fail("entry", "no boot entries to write");
  if (entries.length > 0x10000) fail("entry", "too many boot entries");
  const out = Buffer.from(template);
  const store = parseStore(out);
  const existing = variables(out, store);
  const names = new Set([...entries.map((_, i) => bootName(i)), "BootOrder"]);
  for (const v of existing) if (live(v) && v.guid === EFI_GLOBAL_VARIABLE && names.has(v.name)) out[v.offset + 2] = v.state & VAR_DELETED;
  const order = Buffer.alloc(entries.length * 2);
  entries.forEach((_, i) => order.writeUInt16LE(i, i * 2));
  const added = [...entries.map((e, i) => variable(bootName(i), EFI_GLOBAL_VARIABLE, loadOption(e))), variable("BootOrder", EFI_GLOBAL_VARIABLE, order)];
  let p = existing.length ? existing[existing.length - 1]!.next : store.start;
  const need = added.reduce((sum, v) => sum + align4(v.length), 0);
  if (p + need > store.end) fail("full", `the variable store has ${Math.max(store.end - p, 0)} bytes free and the boot entries need ${need}`);
  for (let i = p; i < p + need; i++) {
    if (out[i] !== 0xff) fail("template", `the variable store's free space is not erased at offset ${i}: the file is damaged or uses a layout Ferry does not know`);
  }
  for (const v of added) {
    v.copy(out, p);
    p += align4(v.length);
  }
  return out;
}

/** Other nodes as OVMF prints the common ones (firmware volume files, PCI, SATA), else Path(type,subtype,hex). */
function nodeText(type: number, sub: number, body: Buffer): string {
  const hex = (n: number) => `0x${n.toString(16).toUpperCase()}`;
  if (type === 0x04 && sub === 0x07 && body.length === 16) return `Fv(${guidText(body)})`;
  if (type === 0x04 && sub === 0x06 && body.length === 16) return `FvFile(${guidText(body)})`;
  if (type === 0x02 && sub === 0x01 && body.length === 8 && body.readUInt32LE(0) === 0x0a0341d0) return `PciRoot(${hex(body.readUInt32LE(4))})`;
  if (type === 0x01 && sub === 0x01 && body.length === 2) return `Pci(${hex(body[1]!)},${hex(body[0]!)})`;
  if (type === 0x03 && sub === 0x12 && body.length === 6) return `Sata(${hex(body.readUInt16LE(0))},${hex(body.readUInt16LE(2))},${hex(body.readUInt16LE(4))})`;
  return `Path(${type},${sub},${body.toString("hex").toUpperCase()})`;
}

function readDevicePath(b: Buffer): { text: string; partition: UefiBootEntry["partition"] | null; path: string | null } {
  const parts: string[] = [];
  let partition: UefiBootEntry["partition"] | null = null;
  let path: string | null = null;
  let p = 0;
  while (p + 4 <= b.length) {
    const [type, sub, len] = [b[p]!, b[p + 1]!, b.readUInt16LE(p + 2)];
    if (len < 4 || p + len > b.length) break;
    const body = b.subarray(p + 4, p + len);
    if (type === 0x7f && sub === 0xff) break;
    if (type === 0x04 && sub === 0x01 && body.length >= 38) {
      const number = body.readUInt32LE(0);
      const startLba = Number(body.readBigUInt64LE(4));
      const sizeLba = Number(body.readBigUInt64LE(12));
      const gpt = body[36] === 0x02 && body[37] === 0x02;
      const guid = guidText(body.subarray(20, 36));
      if (gpt) partition = { number, startLba, sizeLba, guid };
      parts.push(`HD(${number},${gpt ? "GPT" : "MBR"},${gpt ? guid : `0x${body.readUInt32LE(20).toString(16).toUpperCase()}`},0x${startLba.toString(16).toUpperCase()},0x${sizeLba.toString(16).toUpperCase()})`);
    } else if (type === 0x04 && sub === 0x04) {
      const file = body.toString("utf16le").replace(/\0+$/, "");
      path = path === null ? file : `${path}${file}`;
      parts.push(file);
    } else {
      parts.push(nodeText(type, sub, body));
    }
    p += len;
  }
  return { text: parts.join("/"), partition, path };
}

/** The live Boot#### entries (in the EFI global GUID) and BootOrder of a variables file. */
export function readBootEntries(vars: Buffer): { order: number[]; entries: BootEntryRead[] } {
  const store = parseStore(vars);
  const all = variables(vars, store).filter((v) => live(v) && v.guid === EFI_GLOBAL_VARIABLE);
  const orderVar = all.filter((v) => v.name === "BootOrder").pop();
  const order = orderVar ? Array.from({ length: orderVar.data.length >> 1 }, (_, i) => orderVar.data.readUInt16LE(i * 2)) : [];
  const entries = all
    .filter((v) => /^Boot[0-9A-F]{4}$/.test(v.name))
    .flatMap((v): BootEntryRead[] => {
      const d = v.data;
      if (d.length < 8) return [];
      const pathLength = d.readUInt16LE(4);
      let end = 6;
      while (end + 1 < d.length && d.readUInt16LE(end) !== 0) end += 2;
      const description = d.toString("utf16le", 6, end);
      const dp = readDevicePath(d.subarray(end + 2, end + 2 + pathLength));
      return [{ number: parseInt(v.name.slice(4), 16), name: v.name, active: (d.readUInt32LE(0) & LOAD_OPTION_ACTIVE) !== 0, description, devicePath: dp.text, partition: dp.partition, path: dp.path }];
    });
  return { order, entries };
}
