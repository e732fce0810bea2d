import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { HostFirmware } from "../plan";

/**
 * UEFI firmware from the host's firmware descriptors (QEMU's
 * docs/interop/firmware.json; Debian's ovmf ships them in
 * /usr/share/qemu/firmware): which code file and variables template boot a
 * q35 guest, with or without Secure Boot. libvirt picks firmware from the
 * same files; Ferry reads them to write the guest's own variables (with its
 * boot entry) from the matching template. The parser and the choice are pure.
 */

export const FIRMWARE_DIRS = ["/usr/share/qemu/firmware", "/etc/qemu/firmware"];

const File = z.object({ filename: z.string().startsWith("/"), format: z.string().optional() });
const Descriptor = z.object({
  description: z.string().optional(),
  "interface-types": z.array(z.string()),
  mapping: z.object({ device: z.string(), executable: File.optional(), "nvram-template": File.optional() }),
  targets: z.array(z.object({ architecture: z.string(), machines: z.array(z.string()) })),
  features: z.array(z.string()).default([]),
});

export interface FirmwareDescriptor {
  /** The descriptor's file name (its priority: lower sorts first). */
  name: string;
  code: string;
  varsTemplate: string;
  targets: Array<{ architecture: string; machines: string[] }>;
  features: string[];
}

/** One descriptor's JSON; null for what Ferry cannot use (not UEFI on flash, no variables template, not raw, not JSON). */
export function parseFirmwareDescriptor(name: string, text: string): FirmwareDescriptor | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const p = Descriptor.safeParse(raw);
  if (!p.success) return null;
  const d = p.data;
  const code = d.mapping.executable;
  const vars = d.mapping["nvram-template"];
  if (!d["interface-types"].includes("uefi") || d.mapping.device !== "flash" || !code || !vars) return null;
  if ((code.format ?? "raw") !== "raw" || (vars.format ?? "raw") !== "raw") return null;
  return { name, code: code.filename, varsTemplate: vars.filename, targets: d.targets, features: d.features };
}

/** QEMU's glob for machine names: `*` and `?`. */
function globMatch(glob: string, s: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(s);
}

const CONFIDENTIAL = ["amd-sev-es", "amd-sev-snp", "intel-tdx"];

/**
 * The first descriptor (in priority order) for an x86_64 machine: with
 * Secure Boot, one that has it with Microsoft's keys enrolled (and SMM);
 * without, one that neither needs SMM nor has Secure Boot.
 */
export function chooseFirmware(descriptors: FirmwareDescriptor[], machine: string, secureBoot: boolean): HostFirmware | null {
  const sorted = [...descriptors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of sorted) {
    if (!d.targets.some((t) => t.architecture === "x86_64" && t.machines.some((g) => globMatch(g, machine)))) continue;
    if (d.features.some((f) => CONFIDENTIAL.includes(f))) continue;
    const sb = d.features.includes("secure-boot");
    if (secureBoot ? !(sb && d.features.includes("enrolled-keys") && d.features.includes("requires-smm")) : sb || d.features.includes("requires-smm")) continue;
    return { code: d.code, varsTemplate: d.varsTemplate, descriptor: d.name };
  }
  return null;
}

/**
 * The host's descriptors: a file in a later folder replaces one of the same
 * name in an earlier one (an empty file hides it), as QEMU's spec says.
 * Descriptors naming files that do not exist are left out.
 */
export function readFirmwareDescriptors(dirs: string[] = FIRMWARE_DIRS): FirmwareDescriptor[] {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith(".json")) byName.set(f, join(dir, f));
  }
  const out: FirmwareDescriptor[] = [];
  for (const [name, path] of byName) {
    if (statSync(path).size === 0) continue;
    const d = parseFirmwareDescriptor(name, readFileSync(path, "utf8"));
    if (d && existsSync(d.code) && existsSync(d.varsTemplate)) out.push(d);
  }
  return out;
}
