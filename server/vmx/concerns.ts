import type { Fields } from "./fields";
import type { Concern } from "../types";
import type { SourceVm } from "./source-vm";
import type { StorageDevices } from "./storage";

type Vm = Omit<SourceVm, "warnings" | "concerns" | "provenance">;

/**
 * What the VMX alone says may go wrong on KVM, ranked as Forklift does:
 * critical blocks the import, warning needs a look, info is for the record.
 * `exists` is given by the caller at the edge; without it files are not checked.
 */
export function vmxConcerns(
  f: Fields,
  vm: Vm,
  storage: StorageDevices,
  exists?: (path: string) => boolean,
): Concern[] {
  const out: Concern[] = [];
  const add = (id: string, severity: Concern["severity"], message: string, lines: number[], device: string | null = null) =>
    out.push({ id, severity, message, device, lines });
  const on = (key: string) => f.tree.get(key) !== undefined && f.bool(key, false);

  if (f.tree.get("encryption.keySafe") || f.tree.get("encryption.data")) {
    add("vmx.encrypted", "critical", "the guest is encrypted by vSphere; its disks cannot be read without VMware's key server", f.lines("encryption.keySafe", "encryption.data"));
  }
  for (const { name } of f.tree.topLevel(/^pcipassthru\d+$/)) {
    if (on(`${name}.present`)) {
      add("vmx.pci.passthrough", "critical", `${name}: a PCI device is passed through to the guest; the host device cannot move with it`, f.tree.linesUnder(name), name);
    }
  }
  if (on("vtpm.present")) {
    add("vmx.tpm.present", "warning", "the guest has a virtual TPM; its secrets (BitLocker, LUKS keys sealed to the TPM) stay behind, so keep recovery keys at hand", f.lines("vtpm.present"));
  }
  for (const key of ["usb.present", "ehci.present", "usb_xhci.present"]) {
    if (on(key)) add("vmx.usb.controller", "info", `USB controller (${key.split(".")[0]}): attached USB devices are not migrated`, f.lines(key));
  }
  if (on("vcpu.hotadd")) add("vmx.cpu.hotadd", "info", "CPU hot add is enabled; the KVM guest gets a fixed vCPU count", f.lines("vcpu.hotadd"));
  if (on("mem.hotadd")) add("vmx.memory.hotadd", "info", "memory hot add is enabled; the KVM guest gets a fixed memory size", f.lines("mem.hotadd"));
  const affinity = f.lower("sched.cpu.affinity");
  if (affinity && affinity !== "all") {
    add("vmx.cpu.affinity", "warning", `the guest is pinned to host CPUs ${affinity}; pinning is not carried over`, f.lines("sched.cpu.affinity"));
  }
  if (f.lower("numa.nodeAffinity")) {
    add("vmx.numa.affinity", "warning", "the guest is bound to host NUMA nodes; the binding is not carried over", f.lines("numa.nodeAffinity"));
  }
  for (const c of vm.controllers) {
    if (c.sharedBus && c.sharedBus !== "none") {
      add("vmx.scsi.shared-bus", "warning", `${c.id} shares its SCSI bus (${c.sharedBus}); its disks may be shared with another guest (a cluster), and must not be copied while in use`, f.lines(`${c.id}.sharedBus`), c.id);
    }
  }
  if (vm.disks.length === 0) add("vmx.disk.none", "warning", "the guest has no hard disk; there is nothing to copy", []);
  const byPath = new Map<string, string>();
  for (const d of vm.disks) {
    const twin = d.path ? byPath.get(d.path) : undefined;
    if (twin) {
      add("vmx.disk.same-file", "warning", `${d.id} uses the same file as ${twin} (${d.file}); it would be copied twice`, d.lines, d.id);
    } else if (d.path) byPath.set(d.path, d.id);
    if (d.deviceType?.trim().toLowerCase() === "rawdisk") {
      add("vmx.disk.raw-device", "critical", `${d.id} is a raw device mapping; it lives on a SAN LUN, not in the guest's files`, d.lines, d.id);
    }
    if (d.mode.startsWith("independent")) {
      add("vmx.disk.independent", "warning", `${d.id} is an independent disk (${d.mode}); it is left out of snapshots${d.mode.endsWith("nonpersistent") ? " and VMware discards its changes at power off" : ""}`, d.lines, d.id);
    }
    if (d.file && /-\d{6}\.vmdk$/i.test(d.file)) {
      add("vmx.disk.snapshot", "info", `${d.id} runs on a snapshot (${d.file}); the current state is copied, through the whole chain`, d.lines, d.id);
    }
    if (exists && d.path && !exists(d.path)) {
      add("vmx.disk.missing", "critical", `${d.id}: disk file ${d.file} does not exist`, d.lines, d.id);
    }
  }
  for (const c of vm.cdroms) {
    if (exists && c.kind === "image" && c.path && !exists(c.path)) {
      add("vmx.cdrom.missing", "info", `${c.id}: CD-ROM image ${c.file} does not exist; the drive will be empty`, c.lines, c.id);
    }
  }
  for (const p of storage.passthrough) {
    add("vmx.scsi.passthrough", "warning", `${p.id} is a generic SCSI device passed through from the host; it is not migrated`, p.lines, p.id);
  }
  if (vm.firmware === "uefi" && vm.secureBoot) {
    add("vmx.firmware.secure-boot", "info", "UEFI Secure Boot is on; the KVM guest needs OVMF with Secure Boot keys enrolled", f.lines("uefi.secureBoot.enabled"));
  }
  for (const { name } of f.tree.topLevel(/^(serial|parallel)\d+$/)) {
    if (on(`${name}.present`)) add("vmx.port.not-migrated", "info", `${name}: host ports, files and pipes behind it are not migrated`, f.tree.linesUnder(name), name);
  }
  for (const { name } of f.tree.topLevel(/^sharedfolder\d+$/)) {
    if (on(`${name}.present`)) add("vmx.shared-folder", "info", `${name}: VMware shared folders do not exist on KVM`, f.tree.linesUnder(name), name);
  }
  return out.sort(bySeverity);
}

const RANK = { critical: 0, warning: 1, info: 2 } as const;

/** Most severe first; sort is stable, so within a severity the order they were found in. */
export function bySeverity(a: Concern, b: Concern): number {
  return RANK[a.severity] - RANK[b.severity];
}
