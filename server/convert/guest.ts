import { z } from "zod";

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
});
export type GuestInspection = z.infer<typeof GuestInspection>;

/** What the conversion did, step by step, for the job report. */
export const ConversionReport = z.object({
  kernel: z.string(),
  removedTools: z.array(z.string()),
  initramfs: z.object({ file: z.string(), rebuilt: z.boolean(), added: z.array(z.string()), present: z.array(z.string()) }),
  remapped: z.array(z.object({ file: z.string(), from: z.string(), to: z.string() })),
  network: z.array(z.object({ file: z.string(), from: z.string(), to: z.string() })),
  serialConsole: z.boolean(),
  grubRegenerated: z.boolean(),
  selinuxRelabel: z.boolean(),
});
export type ConversionReport = z.infer<typeof ConversionReport>;

/** "Debian 12.15", "Red Hat Enterprise Linux 9.4": libguestfs gives Debian's product as the bare version. */
export function describeOs(g: Pick<GuestInspection, "product" | "distro" | "majorVersion" | "minorVersion">): string {
  const distro = g.distro === "unknown" ? "" : g.distro.charAt(0).toUpperCase() + g.distro.slice(1);
  if (!g.product || g.product === "unknown") return [distro || "unknown OS", `${g.majorVersion}.${g.minorVersion}`].join(" ");
  return /^\d/.test(g.product) ? `${distro} ${g.product}`.trim() : g.product;
}
