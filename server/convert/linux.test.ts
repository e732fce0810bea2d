import { describe, expect, it } from "vitest";
import { FerryError } from "../errors";
import { describeOs, type GuestInspection } from "./guest";
import { converterFor } from ".";
import { linuxConverter, rebuildCommand, refuseUnconvertible, targetRootDevice } from "./linux";
import { windowsConverter } from "./windows";

const linux: GuestInspection = {
  type: "linux",
  distro: "debian",
  majorVersion: 12,
  minorVersion: 8,
  arch: "x86_64",
  product: "12.8",
  hostname: "web",
  root: "/dev/sda1",
  packageFormat: "deb",
  packageManagement: "apt",
  mountpoints: [{ mountpoint: "/", device: "/dev/sda1" }],
  unmounted: [],
  kernels: [{ version: "6.1.0-50-amd64", vmlinuz: "/boot/vmlinuz-6.1.0-50-amd64", initrd: "/boot/initrd.img-6.1.0-50-amd64", virtio: { virtio_blk: "module", virtio_scsi: "module", virtio_net: "module", virtio_pci: "builtin" } }],
  bootloader: { kind: "grub2", config: "/boot/grub/grub.cfg" },
  filesystems: [],
  vmwareTools: ["open-vm-tools"],
  selinux: false,
  initramfsTool: "update-initramfs",
  fsChecks: [],
  windows: null,
};

function refusal(g: Partial<GuestInspection>): FerryError {
  try {
    refuseUnconvertible({ ...linux, ...g });
  } catch (e) {
    return e as FerryError;
  }
  throw new Error("not refused");
}

describe("refuseUnconvertible", () => {
  it("takes the newest kernel that has every virtio driver (module or built in)", () => {
    const old = { ...linux.kernels[0]!, version: "4.19.0-1-amd64", virtio: { ...linux.kernels[0]!.virtio, virtio_blk: "missing" as const } };
    expect(refuseUnconvertible({ ...linux, kernels: [old, linux.kernels[0]!] }).version).toBe("6.1.0-50-amd64");
  });

  it("refuses no kernel, no virtio, no initramfs, no initramfs tool and unknown package formats, each saying what to do", () => {
    expect(refusal({ initramfsTool: null })).toMatchObject({ code: "convert.no-initramfs-tool", message: expect.stringContaining("dracut, update-initramfs or mkinitrd") });
    expect(refusal({ kernels: [] })).toMatchObject({ code: "convert.no-kernel", message: "Debian 12.8 has no kernel in /boot (with modules under /lib/modules)" });
    const noVirtio = { ...linux.kernels[0]!, virtio: { virtio_blk: "missing" as const, virtio_scsi: "missing" as const, virtio_net: "module" as const, virtio_pci: "module" as const } };
    expect(refusal({ kernels: [noVirtio] })).toMatchObject({ code: "convert.no-virtio", message: expect.stringContaining("lacks virtio_blk, virtio_scsi") });
    expect(refusal({ kernels: [{ ...linux.kernels[0]!, initrd: null }] })).toMatchObject({ code: "convert.no-initramfs" });
    expect(refusal({ packageFormat: "pacman", distro: "archlinux", product: "Arch Linux" })).toMatchObject({ code: "convert.unsupported-distro" });
  });
});

describe("converterFor", () => {
  const pick = (g: Partial<GuestInspection>) => {
    try {
      return converterFor({ ...linux, ...g });
    } catch (e) {
      return e as FerryError;
    }
  };
  it("picks the Linux converter for Linux, the Windows one for Windows, and refuses other OSes, saying what to do", () => {
    expect(pick({})).toBe(linuxConverter);
    expect(pick({ type: "windows", product: "Windows Server 2019" })).toBe(windowsConverter);
    expect(pick({ type: "freebsd", distro: "unknown" })).toMatchObject({ code: "convert.unsupported-os", message: expect.stringContaining("freebsd") });
  });

  it("refuses a UEFI guest whose fstab mounts no EFI system partition", () => {
    expect(() => linuxConverter.check(linux, { firmware: "uefi" })).toThrow(expect.objectContaining({ code: "convert.uefi-no-esp" }));
    expect(() => linuxConverter.check({ ...linux, mountpoints: [...linux.mountpoints, { mountpoint: "/boot/efi", device: "/dev/sda1" }] }, { firmware: "uefi" })).not.toThrow();
    expect(() => linuxConverter.check(linux, { firmware: "bios" })).not.toThrow();
  });
});

describe("targetRootDevice", () => {
  it("maps libguestfs' names (by drive order) to the target's", () => {
    expect(targetRootDevice("/dev/sda1", ["vda", "vdb"])).toBe("/dev/vda1");
    expect(targetRootDevice("/dev/sdb2", ["vda", "vdb"])).toBe("/dev/vdb2");
    expect(targetRootDevice("/dev/mapper/vg-root", ["vda"])).toBeNull();
    expect(targetRootDevice("/dev/sdc1", ["vda"])).toBeNull();
  });
});

describe("describeOs", () => {
  it("names Debian by distro and version (libguestfs gives only the version), others by product", () => {
    expect(describeOs(linux)).toBe("Debian 12.8");
    expect(describeOs({ ...linux, distro: "rhel", product: "Red Hat Enterprise Linux 9.4 (Plow)" })).toBe("Red Hat Enterprise Linux 9.4 (Plow)");
    expect(describeOs({ ...linux, distro: "unknown", product: "unknown", majorVersion: 0, minorVersion: 0 })).toBe("unknown OS 0.0");
  });
});

describe("rebuildCommand", () => {
  const k = linux.kernels[0]!;
  const drivers = ["virtio_blk", "virtio_pci"];

  it("dracut keeps the image's format at the compressor's default level, not dracut's maximum", () => {
    expect(rebuildCommand("dracut", k, drivers, "gzip")).toBe("dracut -f --compress 'gzip -n -6' --add-drivers 'virtio_blk virtio_pci' '/boot/initrd.img-6.1.0-50-amd64' '6.1.0-50-amd64'");
    expect(rebuildCommand("dracut", k, drivers, "zstd")).toContain("--compress 'zstd -q -3 -T0'");
  });

  it("leaves other formats, and an image it could not read, to dracut's own choice", () => {
    for (const c of ["xz", "lz4", null] as const) expect(rebuildCommand("dracut", k, drivers, c)).toBe("dracut -f --add-drivers 'virtio_blk virtio_pci' '/boot/initrd.img-6.1.0-50-amd64' '6.1.0-50-amd64'");
  });

  it("update-initramfs and mkinitrd are unchanged by the image's format", () => {
    expect(rebuildCommand("update-initramfs", k, drivers, "gzip")).toBe("update-initramfs -u -k '6.1.0-50-amd64'");
    expect(rebuildCommand("mkinitrd", k, drivers, "gzip")).toBe("mkinitrd -f --with='virtio_blk' --with='virtio_pci' '/boot/initrd.img-6.1.0-50-amd64' '6.1.0-50-amd64'");
  });
});
