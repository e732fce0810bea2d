import { posix } from "node:path";
import { z } from "zod";
import { FerryErrorData, FerryError } from "../errors";
import { confinement, DiskFacts, findLocks, inspectDisk, type Confinement } from "../vmdk";
import type { Concern } from "../types";
import { SourceVm } from "../vmx";
import { bySeverity } from "../vmx/concerns";
import type { Input } from "./input";
import { localInput } from "./local";
import { readVmxFile } from "./vmx-file";

/**
 * A guest as the preview shows it: the VMX's SourceVm plus the facts of
 * every disk, every concern in one list (most severe first), all checked
 * before a byte is copied.
 */
export const DiskReport = z.object({
  /** The VMX disk id (`scsi0:0`). */
  id: z.string(),
  facts: DiskFacts.nullable(),
  /** Why the disk could not be read, when it could not. */
  error: FerryErrorData.nullable(),
});
export type DiskReport = z.infer<typeof DiskReport>;

export const InspectedVm = SourceVm.extend({ diskFacts: z.array(DiskReport) });
export type InspectedVm = z.infer<typeof InspectedVm>;

export interface InspectGuestOptions {
  /** ESXi datastore paths mapped to local folders. */
  datastores?: Confinement["datastores"];
  noFollow?: boolean;
  /** Where the guest's files are (default: this host). */
  input?: Input;
}

export async function inspectGuest(vmxPath: string, options: InspectGuestOptions = {}): Promise<InspectedVm> {
  const input = options.input ?? localInput;
  const r = await readVmxFile(vmxPath, { noFollow: options.noFollow, datastores: options.datastores }, input);
  if (!r.ok) throw r.error;
  const vm = r.vm;
  const guestDir = posix.dirname(vmxPath);
  const c = await confinement(guestDir, options.datastores ?? [], input);
  const concerns: Concern[] = [...vm.concerns];
  const missing = new Set(vm.concerns.filter((x) => x.id === "vmx.disk.missing").map((x) => x.device));

  const locks = new Set(await findLocks(vmxPath, input));
  const diskFacts: DiskReport[] = [];
  for (const [i, d] of vm.disks.entries()) diskFacts.push(await diskReport(i, d));
  async function diskReport(i: number, d: InspectedVm["disks"][number]): Promise<DiskReport> {
    if (d.file === null) return { id: d.id, facts: null, error: null };
    if (missing.has(d.id)) {
      return { id: d.id, facts: null, error: { code: "vmdk.missing", message: `disk file ${d.file} does not exist`, file: d.path, line: d.lines[0] ?? null, hint: null } };
    }
    const fileLine = vm.provenance[`disks.${i}.file`]?.[0] ?? null;
    try {
      const facts = await inspectDisk(d.file, guestDir, { confinement: c, where: { file: vmxPath, line: fileLine } });
      for (const l of facts.locks) locks.add(l);
      // Lock files are reported once for the guest, below.
      for (const k of facts.concerns) if (k.id !== "vmdk.locked") concerns.push({ ...k, device: d.id, lines: d.lines });
      return { id: d.id, facts: { ...facts, concerns: facts.concerns.map((k) => ({ ...k, device: d.id })) }, error: null };
    } catch (e) {
      if (!(e instanceof FerryError)) throw e;
      concerns.push({ id: e.code, severity: "critical", message: `${d.id}: ${e.describe()}`, device: d.id, lines: d.lines });
      return { id: d.id, facts: null, error: e.toJSON() };
    }
  }

  if (locks.size) {
    const names = [...locks].map((l) => l.split("/").pop()).join(", ");
    concerns.push({ id: "vmx.locked", severity: "warning", message: `VMware lock files (${names}): the guest may be running, and a copy of a running guest is not consistent; shut it down first`, device: null, lines: [] });
  }
  concerns.sort(bySeverity);
  return { ...vm, concerns, diskFacts };
}
