import { FerryError } from "../errors";
import { vmxConcerns } from "./concerns";
import { Fields } from "./fields";
import { guestOsFromId } from "./guest-os";
import { lexVmx } from "./lexer";
import { readNics } from "./nics";
import { vmxBaseName } from "./paths";
import type { SourceVm } from "./source-vm";
import { readFloppies, readStorage } from "./storage";
import { buildTree, type VmxTree } from "./tree";
import type { Warning } from "../types";

export interface ReadVmxOptions {
  /** The VMX's path: names the file in errors and anchors relative disk names. */
  vmxPath: string;
  /** Whether a referenced file exists, asked by the caller at the edge; when omitted nothing is checked. */
  exists?: (path: string) => boolean;
}

export type ReadVmxResult =
  | { ok: true; vm: SourceVm; tree: VmxTree }
  | { ok: false; error: FerryError };

/** VMX bytes → key tree (no SourceVm). Throws FerryError for what is not a VMX. */
export function parseVmxTree(bytes: Uint8Array, file: string | null = null): { tree: VmxTree; warnings: Warning[]; encoding: string; encodingLine: number | null } {
  const lex = lexVmx(bytes, file);
  const { tree, warnings } = buildTree(lex);
  return { tree, warnings: [...lex.warnings, ...warnings], encoding: lex.charset.name, encodingLine: lex.encodingLine };
}

/**
 * VMX bytes → SourceVm. Pure: it never touches the file system. Returns a
 * typed error instead of throwing, whatever the bytes.
 */
export function readVmx(bytes: Uint8Array, options: ReadVmxOptions): ReadVmxResult {
  try {
    const parsed = parseVmxTree(bytes, options.vmxPath);
    return { ok: true, vm: sourceVmFromTree(parsed.tree, parsed, options), tree: parsed.tree };
  } catch (e) {
    if (e instanceof FerryError) return { ok: false, error: e };
    return {
      ok: false,
      error: new FerryError({
        code: "vmx.internal",
        message: `could not read the VMX: ${(e as Error).message}`,
        file: options.vmxPath,
        hint: "this is a bug in Ferry; please report it with the file",
      }),
    };
  }
}

function sourceVmFromTree(
  tree: VmxTree,
  parsed: { warnings: Warning[]; encoding: string; encodingLine: number | null },
  options: ReadVmxOptions,
): SourceVm {
  const f = new Fields(tree);

  let name = f.str("displayName");
  if (name === undefined || name.trim() === "") {
    name = vmxBaseName(options.vmxPath) || "unnamed";
    f.warn("vmx.name.missing", `no displayName; the guest is called "${name}" after its file`, f.line("displayName"));
  }
  f.from("name", "displayName");

  let memoryMiB = f.int("memsize", 1);
  if (memoryMiB === undefined) {
    memoryMiB = 32;
    if (!f.tree.get("memsize")) f.warn("vmx.memory.missing", "no memsize; VMware's default of 32 MiB is assumed");
  }
  f.from("memoryMiB", "memsize");

  const vcpus = f.int("numvcpus", 1) ?? 1;
  f.from("vcpus", "numvcpus");

  let topology: SourceVm["topology"] = null;
  const coresPerSocket = f.int("cpuid.coresPerSocket");
  if (coresPerSocket !== undefined) {
    if (coresPerSocket <= 0 || vcpus % coresPerSocket !== 0) {
      f.warn("vmx.cpu.topology", `cpuid.coresPerSocket = ${coresPerSocket} does not divide ${vcpus} vCPUs; no topology is set`, f.line("cpuid.coresPerSocket"));
    } else {
      topology = { sockets: vcpus / coresPerSocket, cores: coresPerSocket, threads: 1 };
    }
    f.from("topology", "numvcpus", "cpuid.coresPerSocket");
  }

  let firmware: SourceVm["firmware"] = "bios";
  const fw = f.lower("firmware");
  if (fw === "efi") firmware = "uefi";
  else if (fw !== null && fw !== "bios") {
    f.warn("vmx.firmware.unknown", `firmware = "${f.str("firmware")}" is neither "bios" nor "efi"; BIOS is assumed`, f.line("firmware"));
  }
  f.from("firmware", "firmware");
  const secureBoot = firmware === "uefi" && f.bool("uefi.secureBoot.enabled", false);
  f.from("secureBoot", "uefi.secureBoot.enabled");

  const guestOS = guestOsFromId(f.str("guestOS") ?? null);
  f.from("guestOS", "guestOS");

  const uuid = readUuid(f);
  const genid = readGenid(f);
  const annotation = f.str("annotation") ?? null;
  f.from("annotation", "annotation");
  const hardwareVersion = f.int("virtualHW.version") ?? null;
  f.from("hardwareVersion", "virtualHW.version");
  if (parsed.encodingLine) f.provenance["encoding"] = [parsed.encodingLine];

  const storage = readStorage(f, options.vmxPath);
  const floppies = readFloppies(f, options.vmxPath);
  const nics = readNics(f);

  const vm = {
    vmxPath: options.vmxPath,
    name,
    memoryMiB,
    vcpus,
    topology,
    firmware,
    secureBoot,
    guestOS,
    uuid,
    genid,
    annotation,
    hardwareVersion,
    encoding: parsed.encoding,
    controllers: storage.controllers,
    disks: storage.disks,
    cdroms: storage.cdroms,
    floppies,
    nics,
  };
  const concerns = vmxConcerns(f, vm, storage, options.exists);
  return {
    ...vm,
    warnings: [...parsed.warnings, ...f.warnings].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
    concerns,
    provenance: f.provenance,
  };
}

/** `uuid.bios = "50 11 5e 16 9b dc 49 d7-f1 71 53 c4 d7 f9 17 10"` → canonical form. */
function readUuid(f: Fields): string | null {
  const raw = f.str("uuid.bios");
  if (raw === undefined) return null;
  f.from("uuid", "uuid.bios");
  const hex = raw.replace(/[\s-]/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    f.warn("vmx.uuid.invalid", `uuid.bios = "${raw}" is not 16 hex bytes; a new UUID will be made`, f.line("uuid.bios"));
    return null;
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * `vm.genid`/`vm.genidX` are two signed 64-bit halves of the Windows VM
 * generation id. Laid out as virt-v2v does: the low half as a GUID's
 * little-endian fields, the high half's bytes in reverse order.
 */
function readGenid(f: Fields): string | null {
  const lo = f.str("vm.genid")?.trim();
  const hi = f.str("vm.genidX")?.trim();
  if (lo === undefined || hi === undefined) return null;
  f.from("genid", "vm.genid", "vm.genidX");
  if (!/^-?\d{1,20}$/.test(lo) || !/^-?\d{1,20}$/.test(hi)) {
    f.warn("vmx.genid.invalid", "vm.genid/vm.genidX are not 64-bit numbers; ignored", f.line("vm.genid"));
    return null;
  }
  const l = BigInt.asUintN(64, BigInt(lo)).toString(16).padStart(16, "0");
  const h = BigInt.asUintN(64, BigInt(hi)).toString(16).padStart(16, "0");
  const hBytes = (h.match(/../g) ?? []).reverse().join("");
  return `${l.slice(8)}-${l.slice(4, 8)}-${l.slice(0, 4)}-${hBytes.slice(0, 4)}-${hBytes.slice(4)}`;
}
