import { z } from "zod";
import { WindowsFacts } from "./windows-facts";

/**
 * What inspection found inside the guest's disks: the one shape the
 * pipeline, the job report and the wizard share.
 */

export const VirtioDriver = z.enum(["virtio_blk", "virtio_scsi", "virtio_net", "virtio_pci"]);
export type VirtioDriver = z.infer<typeof VirtioDriver>;
export const VIRTIO_DRIVERS = VirtioDriver.options;

export const GuestKernel = z.object({
  version: z.string(),
  vmlinuz: z.string(),
  /** The kernel's initramfs in the guest, or null when it has none. */
  initrd: z.string().nullable(),
  /** Where each virtio driver lives for this kernel: a module file, built into the kernel, or nowhere. */
  virtio: z.record(VirtioDriver, z.enum(["module", "builtin", "missing"])),
});
export type GuestKernel = z.infer<typeof GuestKernel>;

export const GuestFilesystem = z.object({
  mountpoint: z.string(),
  device: z.string(),
  sizeBytes: z.number(),
  freeBytes: z.number(),
  inodes: z.number(),
  freeInodes: z.number(),
});
export type GuestFilesystem = z.infer<typeof GuestFilesystem>;

/** A read-only filesystem check (e2fsck -n, xfs_repair -n) made before the conversion writes anything. */
export const FsCheck = z.object({
  device: z.string(),
  type: z.string(),
  mountpoint: z.string(),
  result: z.enum(["clean", "damaged", "dirty-log", "not-checked"]),
  detail: z.string(),
});
export type FsCheck = z.infer<typeof FsCheck>;

export const GuestInspection = z.object({
  /** libguestfs' names: linux, windows, freebsd, ... */
  type: z.string(),
  distro: z.string(),
  majorVersion: z.number().int(),
  minorVersion: z.number().int(),
  arch: z.string(),
  product: z.string(),
  hostname: z.string(),
  /** The root filesystem's device in the appliance (`/dev/sda1`). */
  root: z.string(),
  packageFormat: z.string(),
  packageManagement: z.string(),
  mountpoints: z.array(z.object({ mountpoint: z.string(), device: z.string() })),
  /** Filesystems from the guest's fstab that did not mount, and why. */
  unmounted: z.array(z.string()),
  kernels: z.array(GuestKernel),
  bootloader: z.object({ kind: z.enum(["grub2", "grub-legacy", "none"]), config: z.string().nullable() }),
  filesystems: z.array(GuestFilesystem),
  /** Installed VMware tools packages (open-vm-tools, vmware-tools-*), and the tarball uninstaller if present. */
  vmwareTools: z.array(z.string()),
  selinux: z.boolean(),
  /** The initramfs tool installed in the guest (what rebuilds its image), by what is installed, not by distribution. */
  initramfsTool: z.enum(["dracut", "update-initramfs", "mkinitrd"]).nullable(),
  /** Read-only checks of each filesystem before anything was mounted for writing. */
  fsChecks: z.array(FsCheck),
  /** Windows guests: system root, hives, edition, and what the conversion changes (null for other guests). */
  windows: WindowsFacts.nullable().default(null),
});
export type GuestInspection = z.infer<typeof GuestInspection>;

/** How each NIC kept its identity inside the guest. */
export const NicIdentity = z.object({
  sourceId: z.string(),
  mac: z.string().nullable(),
  /** The guest's interface for this NIC, as configured on VMware; null when nothing pairs with it. */
  guestName: z.string().nullable(),
  /** How the pairing was found: a MAC in the guest's configuration, ESXi's PCI slot name, or none. */
  pairedBy: z.enum(["mac", "pci-slot", "kernel-names", "none"]),
  /**
   * pinned: a systemd .link file names the interface by its MAC, configuration untouched;
   * renamed: the configuration was renamed to the KVM name; kept: nothing to do.
   */
  approach: z.enum(["pinned", "renamed", "kept"]),
  /** The name the interface has on KVM. */
  kvmName: z.string(),
  files: z.array(z.string()),
  /** Static IPv4 addresses the guest configures on it (`192.168.50.10/24`): the boot check asks for them. */
  addresses: z.array(z.string()),
  reason: z.string(),
});
export type NicIdentity = z.infer<typeof NicIdentity>;

/** UEFI: what boots the guest on KVM with fresh firmware variables, and the entry Ferry ships. */
export const UefiReport = z.object({
  /** The EFI system partition in the appliance, and where the guest mounts it. */
  esp: z.string(),
  mountpoint: z.string(),
  /** The loader the guest's own boot entry ran on VMware (`\EFI\debian\shimx64.efi`). */
  loader: z.string(),
  /** The removable-media fallback (`\EFI\BOOT\BOOTX64.EFI`): already there, or installed by Ferry. */
  fallback: z.enum(["present", "installed"]),
  fallbackFiles: z.array(z.string()),
  /** The boot entry written into the guest's OVMF variables, pointing at `loader`. */
  bootEntry: z
    .object({ description: z.string(), path: z.string(), partition: z.object({ number: z.number().int(), startLba: z.number().int(), sizeLba: z.number().int(), guid: z.string() }), disk: z.number().int() })
    .nullable(),
});
export type UefiReport = z.infer<typeof UefiReport>;

/** What the Linux conversion did, step by step, for the job report. */
export const LinuxConversionReport = z.object({
  family: z.literal("linux"),
  kernel: z.string(),
  removedTools: z.array(z.string()),
  initramfs: z.object({
    file: z.string(),
    /** The tool the guest has installed, which rebuilt the image. */
    tool: z.enum(["dracut", "update-initramfs", "mkinitrd"]).nullable(),
    rebuilt: z.boolean(),
    /** Why it was rebuilt (missing drivers, new device names, pinned NIC names, LVM device cache). */
    reasons: z.array(z.string()),
    added: z.array(z.string()),
    present: z.array(z.string()),
    /** Files added to the image as an early archive without a rebuild (the .link files that keep NIC names). */
    appended: z.array(z.string()),
  }),
  remapped: z.array(z.object({ file: z.string(), from: z.string(), to: z.string() })),
  network: z.array(z.object({ file: z.string(), from: z.string(), to: z.string() })),
  nics: z.array(NicIdentity),
  /** Stale LVM device caches removed (they pin PVs by serial numbers that change on KVM). */
  lvmDevicesRemoved: z.array(z.string()),
  uefi: UefiReport.nullable(),
  serialConsole: z.boolean(),
  grubRegenerated: z.boolean(),
  selinuxRelabel: z.boolean(),
});
export type LinuxConversionReport = z.infer<typeof LinuxConversionReport>;

/** What the Windows conversion did: every file written and every registry value set (with the value before). */
export const WindowsConversionReport = z.object({
  family: z.literal("windows"),
  product: z.string(),
  version: z.string(),
  /** virtio: viostor and friends from virtio-win; emulated: SATA and e1000e with Windows' own drivers. */
  devices: z.enum(["virtio", "emulated"]),
  virtioWin: z.string().nullable(),
  blockDriver: z.string().nullable(),
  /** Files written into the guest (appliance paths). */
  files: z.array(z.string()),
  /** Drivers staged for pnputil at first boot. */
  stagedDrivers: z.array(z.string()),
  registry: z.array(z.object({ hive: z.enum(["SYSTEM", "SOFTWARE"]), key: z.string(), name: z.string(), value: z.string(), previous: z.string(), why: z.string() })),
  firstboot: z.object({ service: z.string(), files: z.array(z.object({ path: z.string(), text: z.string() })) }),
  /** VMware services and drivers set to Start 4. */
  vmwareDisabled: z.array(z.string()),
  /** Static IPv4 settings the first boot puts back, on the NIC with this MAC. */
  staticIps: z.array(z.object({ nic: z.string(), mac: z.string(), addresses: z.array(z.string()), gateways: z.array(z.string()), dns: z.array(z.string()) })),
  unpairedStaticIps: z.array(z.string()),
  /** storahci was made to start at boot (SATA target). */
  ahciFix: z.boolean(),
});
export type WindowsConversionReport = z.infer<typeof WindowsConversionReport>;

/** What a converter did; one member per guest family. */
export const ConversionReport = z.discriminatedUnion("family", [LinuxConversionReport, WindowsConversionReport]);
export type ConversionReport = z.infer<typeof ConversionReport>;

/** The static IPv4 address (`192.168.50.10/24`) the conversion found for a NIC, whatever the guest family: the boot check asks for it. */
export function staticAddressOf(report: ConversionReport | null, nic: { sourceId: string; mac: string | null }): string | null {
  if (!report) return null;
  if (report.family === "linux") return report.nics.find((x) => x.sourceId === nic.sourceId)?.addresses[0] ?? null;
  return report.staticIps.find((x) => x.nic === nic.sourceId)?.addresses[0] ?? null;
}

/** "Debian 12.15", "Red Hat Enterprise Linux 9.4": libguestfs gives Debian's product as the bare version. */
export function describeOs(g: Pick<GuestInspection, "product" | "distro" | "majorVersion" | "minorVersion">): string {
  const distro = g.distro === "unknown" ? "" : g.distro.charAt(0).toUpperCase() + g.distro.slice(1);
  if (!g.product || g.product === "unknown") return [distro || "unknown OS", `${g.majorVersion}.${g.minorVersion}`].join(" ");
  return /^\d/.test(g.product) ? `${distro} ${g.product}`.trim() : g.product;
}
