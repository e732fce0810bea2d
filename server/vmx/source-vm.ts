import { z } from "zod";
import { Concern, Lines, Warning } from "../types";

/**
 * SourceVm: what the VMX says about the guest, the input of every later
 * step (preview, plan, pipeline). The single source of its type.
 */

export const Bus = z.enum(["scsi", "sata", "nvme", "ide"]);
export type Bus = z.infer<typeof Bus>;

export const Controller = z.object({
  /** `scsi0`, `sata1`, `nvme0`, `ide1`. */
  id: z.string(),
  bus: Bus,
  index: z.number().int().nonnegative(),
  /** `virtualDev` lowercased (pvscsi, lsilogic, lsisas1068, buslogic), `ahci`/`nvme` for SATA/NVMe, null when unknown. */
  model: z.string().nullable(),
  /** `present = "TRUE"` written; false when only its devices name it. */
  declared: z.boolean(),
  /** SCSI bus sharing (`sharedBus`): none, virtual or physical. */
  sharedBus: z.string().nullable(),
  lines: Lines,
});
export type Controller = z.infer<typeof Controller>;

export const Disk = z.object({
  /** `scsi0:0`. */
  id: z.string(),
  bus: Bus,
  controller: z.number().int().nonnegative(),
  unit: z.number().int().nonnegative(),
  /** `fileName` exactly as written. */
  file: z.string().nullable(),
  /** `file` resolved against the VMX's folder (absolute names kept). */
  path: z.string().nullable(),
  /** persistent, independent-persistent, independent-nonpersistent, nonpersistent, ... */
  mode: z.string(),
  /** `deviceType` as written, or null when absent. */
  deviceType: z.string().nullable(),
  lines: Lines,
});
export type Disk = z.infer<typeof Disk>;

export const Cdrom = z.object({
  id: z.string(),
  bus: Bus,
  controller: z.number().int().nonnegative(),
  unit: z.number().int().nonnegative(),
  /** image: an ISO file; device: the host's (or client's) drive. */
  kind: z.enum(["image", "device"]),
  deviceType: z.string(),
  file: z.string().nullable(),
  path: z.string().nullable(),
  startConnected: z.boolean(),
  clientDevice: z.boolean(),
  lines: Lines,
});
export type Cdrom = z.infer<typeof Cdrom>;

export const Floppy = z.object({
  id: z.string(),
  index: z.number().int().nonnegative(),
  kind: z.enum(["image", "device"]),
  file: z.string().nullable(),
  path: z.string().nullable(),
  startConnected: z.boolean(),
  clientDevice: z.boolean(),
  lines: Lines,
});
export type Floppy = z.infer<typeof Floppy>;

export const Nic = z.object({
  /** `ethernet0`. */
  id: z.string(),
  index: z.number().int().nonnegative(),
  /** `virtualDev` lowercased (e1000, e1000e, vmxnet3, vlance, vmxnet2 for vmxnet with features 15), null when absent. */
  model: z.string().nullable(),
  /** Lowercase `xx:xx:...`; null when unknown (never zeros). */
  mac: z.string().nullable(),
  /** `addressType` lowercased: generated, vpx, static. */
  macType: z.string().nullable(),
  /** `networkName`, else `vnet`, else null. */
  network: z.string().nullable(),
  /** `connectionType` lowercased: bridged, nat, hostonly, custom; null when absent. */
  connectionType: z.string().nullable(),
  /** Distributed switch port group, when on a vDS. */
  portgroup: z.string().nullable(),
  startConnected: z.boolean(),
  /**
   * `pciSlotNumber`: ESXi's slot, which the guest sees as the ACPI slot, so
   * systemd names the NIC `ens<slot>` (192 → ens192). Null when absent.
   */
  pciSlot: z.number().int().nonnegative().nullable(),
  lines: Lines,
});
export type Nic = z.infer<typeof Nic>;

export const GuestOs = z.object({
  /** `guestOS` as written. */
  id: z.string().nullable(),
  family: z.enum(["linux", "windows", "other", "unknown"]),
  /** A short osinfo-style id (debian12, rhel9.0, win2k19) where known. */
  osinfo: z.string().nullable(),
  arch: z.enum(["x86_64", "i686"]).nullable(),
});
export type GuestOs = z.infer<typeof GuestOs>;

export const Topology = z.object({
  sockets: z.number().int().positive(),
  cores: z.number().int().positive(),
  threads: z.number().int().positive(),
});

export const SourceVm = z.object({
  /** The VMX path as given to the reader. */
  vmxPath: z.string(),
  name: z.string(),
  memoryMiB: z.number().int().positive(),
  vcpus: z.number().int().positive(),
  topology: Topology.nullable(),
  firmware: z.enum(["bios", "uefi"]),
  secureBoot: z.boolean(),
  guestOS: GuestOs,
  /** `uuid.bios` as a canonical UUID. */
  uuid: z.string().nullable(),
  /** The VM generation id from `vm.genid`/`vm.genidX`, as virt-v2v prints it. */
  genid: z.string().nullable(),
  annotation: z.string().nullable(),
  /** `virtualHW.version`. */
  hardwareVersion: z.number().int().nullable(),
  /** The charset the values were read with. */
  encoding: z.string(),
  controllers: z.array(Controller),
  disks: z.array(Disk),
  cdroms: z.array(Cdrom),
  floppies: z.array(Floppy),
  nics: z.array(Nic),
  warnings: z.array(Warning),
  concerns: z.array(Concern),
  /** Field path (`memoryMiB`, `disks.0.file`, `nics.1.mac`) → the VMX lines it came from. */
  provenance: z.record(z.string(), Lines),
});
export type SourceVm = z.infer<typeof SourceVm>;
