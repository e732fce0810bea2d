import { z } from "zod";
import { DiskSource } from "../input/input";
import { Concern } from "../types";

/**
 * TargetPlan: every decision about the KVM guest, each with its reason.
 * planTarget makes it (pure); the pipeline executes exactly it; the
 * wizard's Review step shows exactly it.
 */

export const OutputMode = z.enum(["local", "qemu", "json", "libvirt"]);
export type OutputMode = z.infer<typeof OutputMode>;

/** A UEFI firmware the target host describes (its code and variables template). */
export const HostFirmware = z.object({ code: z.string(), varsTemplate: z.string(), descriptor: z.string() });
export type HostFirmware = z.infer<typeof HostFirmware>;

/**
 * -o libvirt: the daemon, the storage pool and what the host offers, read
 * from libvirt before planning (server/libvirt) so the plan stays pure and
 * the Review step shows the very XML that is defined.
 */
export const LibvirtTarget = z.object({
  uri: z.string(),
  pool: z.string(),
  /** The pool's folder: volumes are written there (directory-backed pools only). */
  poolPath: z.string(),
  /** kvm when the host's capabilities offer it, else qemu (TCG). */
  domainType: z.enum(["kvm", "qemu"]),
  /** The host's q35 machine type, as libvirt names it (pc-q35-7.2). */
  machine: z.string(),
  /** From the host's firmware descriptors: plain UEFI and Secure Boot with Microsoft's keys (null when absent). */
  firmware: z.object({ plain: HostFirmware.nullable(), secure: HostFirmware.nullable() }),
});
export type LibvirtTarget = z.infer<typeof LibvirtTarget>;
export const TargetFormat = z.enum(["raw", "qcow2"]);
export type TargetFormat = z.infer<typeof TargetFormat>;
export const Allocation = z.enum(["sparse", "preallocated"]);
export type Allocation = z.infer<typeof Allocation>;

/** A change from the VMware guest to the KVM guest, and why. */
export const Change = z.object({
  /** What changes: `scsi0:0 bus`, `ethernet0 model`, `firmware`. */
  subject: z.string(),
  from: z.string(),
  to: z.string(),
  reason: z.string(),
});
export type Change = z.infer<typeof Change>;

export const PlannedDisk = z.object({
  /** The VMX disk id (`scsi0:0`). */
  sourceId: z.string(),
  /** The validated top of the disk's chain (qemu-img reads the chain from it). */
  sourcePath: z.string(),
  capacityBytes: z.number().int().nonnegative(),
  allocatedBytes: z.number().int().nonnegative().nullable(),
  /** `sda`, `sdb`, `vda`... */
  dev: z.string(),
  bus: z.enum(["virtio", "sata", "scsi"]),
  /** The file name in the output folder: `NAME-sda`. */
  targetName: z.string(),
  /** Every file the disk's chain reads (descriptors and extents), watched for changes during the copy. */
  sourceFiles: z.array(z.string()),
  /** What qemu-img reads, read-only, as the overlay's backing (the input builds it). */
  source: DiskSource,
});
export type PlannedDisk = z.infer<typeof PlannedDisk>;

export const PlannedNic = z.object({
  sourceId: z.string(),
  mac: z.string().nullable(),
  model: z.enum(["virtio", "e1000e", "e1000", "rtl8139"]),
  network: z.object({ type: z.enum(["network", "bridge"]), name: z.string() }),
});
export type PlannedNic = z.infer<typeof PlannedNic>;

/** One NIC as the conversion sees it: the pairing with the guest's interface is made from these. */
export const ConversionNic = z.object({
  sourceId: z.string(),
  mac: z.string().nullable(),
  /** `ens<pciSlotNumber>`, the predictable name the guest used on ESXi; null when the VMX gives no slot. */
  vmwareName: z.string().nullable(),
  /** The predictable name on KVM (`enp1s0`), which a guest that does not pin its names would get. */
  kvmName: z.string(),
});
export type ConversionNic = z.infer<typeof ConversionNic>;

export const TargetPlan = z.object({
  name: z.string(),
  /** The VMX the plan was made from. */
  vmxPath: z.string(),
  /** dir: the output folder (for -o libvirt, the pool's folder). */
  output: z.object({ mode: OutputMode, dir: z.string(), libvirt: LibvirtTarget.optional(), start: z.boolean().optional() }),
  format: TargetFormat,
  allocation: Allocation,
  memoryMiB: z.number().int().positive(),
  vcpus: z.number().int().positive(),
  topology: z.object({ sockets: z.number().int(), cores: z.number().int(), threads: z.number().int() }).nullable(),
  firmware: z.enum(["bios", "uefi"]),
  secureBoot: z.boolean(),
  machine: z.literal("q35"),
  uuid: z.string().nullable(),
  osinfo: z.string().nullable(),
  disks: z.array(PlannedDisk),
  /** CD-ROM drives, kept empty: an ISO on the NAS is not the guest's data. */
  cdroms: z.array(z.object({ sourceId: z.string(), dev: z.string(), bus: z.literal("sata") })),
  nics: z.array(PlannedNic),
  /** Guest conversion (virtio drivers, fstab, tools removal) is skipped. */
  copyOnly: z.boolean(),
  /**
   * What the conversion needs to know of the hardware change (null for
   * copy-only): the source's disk names (sda) to the target's (vda), and
   * per NIC its MAC, the name ESXi's PCI slot gave it in the guest (ens192)
   * and the name KVM's PCI layout would give it (enp1s0).
   */
  conversion: z
    .object({
      devices: z.record(z.string(), z.string()),
      nics: z.array(ConversionNic),
      /** Windows: the virtio-win tree or ISO the drivers come from; null when the guest gets emulated devices. */
      virtioWin: z.string().nullable().default(null),
    })
    .nullable(),
  /** Boot the result under qemu and wait for a login prompt before finishing. */
  bootCheck: z.boolean(),
  /** What proves the boot: a serial-console login prompt (Linux), or the guest's NIC on the network by its MAC, with screenshots (Windows has no serial console). */
  bootProof: z.enum(["serial-login", "network"]).default("serial-login"),
  /** Copy this many disks at once. */
  parallel: z.number().int().min(1).max(16),
  overwrite: z.boolean(),
  /** Bytes per second per disk copy, to spare a busy NAS; null for no limit. */
  rateLimit: z.number().int().positive().nullable(),
  changes: z.array(Change),
  /** The source's concerns; a critical one blocks the run. */
  concerns: z.array(Concern),
});
export type TargetPlan = z.infer<typeof TargetPlan>;

export const PlanOptions = z.object({
  output: OutputMode.default("local"),
  outputDir: z.string().min(1),
  format: TargetFormat.default("raw"),
  allocation: Allocation.default("sparse"),
  name: z.string().optional(),
  /** `--network OUT` (every NIC) or `--network IN:OUT` (NICs on source network IN). */
  networks: z.array(z.string()).default([]),
  bridges: z.array(z.string()).default([]),
  /** `--mac MAC:network|bridge:NAME`. */
  macs: z.array(z.string()).default([]),
  copyOnly: z.boolean().default(false),
  /** Boot the result before finishing (default: on for a converted guest, off for copy-only). */
  bootCheck: z.boolean().optional(),
  parallel: z.number().int().min(1).max(16).default(1),
  overwrite: z.boolean().default(false),
  /** VMX disk ids (`scsi0:1`) to leave behind. */
  excludeDisks: z.array(z.string()).default([]),
  /** virtio-win for Windows guests: where it is and the Windows versions it has boot drivers for (`win10/x86_64`), read at the edge by readVirtioWin. */
  virtioWin: z.object({ path: z.string(), supports: z.array(z.string()) }).nullable().default(null),
  /** Read from the NAS at most this many bytes per second per disk (null: as fast as it goes). */
  rateLimit: z.number().int().min(1024 * 1024).nullable().default(null),
  /** -o libvirt: what the host offers (probeLibvirt), and whether to start the guest once defined. */
  libvirt: LibvirtTarget.optional(),
  start: z.boolean().default(false),
});
export type PlanOptions = z.input<typeof PlanOptions>;
