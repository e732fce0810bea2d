import { FerryError } from "../errors";
import { formatBytes } from "../units";
import type { GuestFilesystem } from "./guest";

/**
 * virt-v2v's minimums: the conversion writes a new initramfs and grub
 * config, and a full filesystem breaks it half-way. Linux `/` needs 100 MB,
 * `/boot` 50 MB, any other 10 MB, and every filesystem 100 free inodes.
 */
export const MIN_FREE_INODES = 100;

export function minimumFree(mountpoint: string): number {
  if (mountpoint === "/") return 100 * 1000 ** 2;
  if (mountpoint === "/boot") return 50 * 1000 ** 2;
  return 10 * 1000 ** 2;
}

/** Throws for the first filesystem that falls short, naming it and its figures. */
export function checkGuestFreeSpace(filesystems: GuestFilesystem[]): void {
  for (const fs of filesystems) {
    const need = minimumFree(fs.mountpoint);
    if (fs.freeBytes < need) {
      throw new FerryError({
        code: "convert.guest-space",
        message: `the guest's ${fs.mountpoint} filesystem (${fs.device}) has ${formatBytes(fs.freeBytes)} free; the conversion needs at least ${formatBytes(need)} there`,
        file: null,
        hint: `free space in ${fs.mountpoint} inside the guest on VMware (remove old kernels, logs or caches), then run Ferry again`,
      });
    }
    if (fs.inodes > 0 && fs.freeInodes < MIN_FREE_INODES) {
      throw new FerryError({
        code: "convert.guest-inodes",
        message: `the guest's ${fs.mountpoint} filesystem (${fs.device}) has ${fs.freeInodes} free inodes; the conversion needs at least ${MIN_FREE_INODES}`,
        file: null,
        hint: `remove small files in ${fs.mountpoint} inside the guest on VMware, then run Ferry again`,
      });
    }
  }
}
