import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostDecompress } from "../../server/convert/inspect";
import { listInitramfs } from "../../server/convert/initramfs";
import { bootCheck } from "../../server/qemu/boot-check";
import { consoleText } from "../../server/qemu/console";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { ext4File, ext4Ls, guestRead, installedPackages, partitions, plainCopy, readBytes, vmxMacs, vmxValue, type GuestRead } from "./helpers";

/**
 * rhel-like: Debian 12 packages in RHEL 9's shape (scripts/guests/rhel-like.sh):
 * /boot on sda1, LVM (VG rhel: root on XFS, swap) on sda2, dracut host-only
 * with vmw_pvscsi and no virtio, NetworkManager keyfiles for three NICs.
 * A plain copy on virtio finds no root device.
 */

const MiB = 1024 * 1024;
let guest: LinuxGuest;
let work: string;
let raw: string;
let inside: GuestRead;

beforeAll(async () => {
  guest = linuxGuest("rhel-like");
  work = mkdtempSync(join(tmpdir(), "ferry-rhel-like-"));
  raw = plainCopy(guest.vmdks[0]!, work);
  inside = await guestRead(raw, {
    mounts: [
      ["/dev/rhel/root", "/"],
      ["/dev/sda1", "/boot"],
    ],
    files: [
      "/etc/fstab",
      "/etc/hostname",
      "/etc/dracut.conf.d/01-hostonly.conf",
      "/etc/lvm/lvm.conf",
      "/etc/lvm/devices/system.devices",
      "/var/lib/dpkg/status",
      "/etc/network/interfaces",
      "/etc/nftables.conf",
      "/etc/NetworkManager/system-connections/backup.nmconnection",
      "/etc/NetworkManager/system-connections/ens192.nmconnection",
      "/etc/NetworkManager/system-connections/ens224.nmconnection",
      "/etc/systemd/system/ferry-nic-report.service",
      "/etc/default/grub",
    ],
    ls: ["/etc/NetworkManager/system-connections", "/etc/dracut.conf.d", "/boot", "/etc/systemd/system/multi-user.target.wants", "/etc/systemd/system/sysinit.target.wants"],
    vfs: ["/dev/sda1", "/dev/rhel/root", "/dev/rhel/swap"],
  });
}, 40 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the rhel-like guest", () => {
  it("has a VMX as ESXi writes it for RHEL 9: pvscsi in slot 160, three NICs in slots 192, 224, 256", () => {
    expect(guest.vmxs).toEqual([guest.vmx]);
    expect(vmxValue(guest.vmx, "guestOS")).toBe("rhel9-64");
    expect(vmxValue(guest.vmx, "scsi0.virtualDev")).toBe("pvscsi");
    expect(vmxValue(guest.vmx, "scsi0.pciSlotNumber")).toBe("160");
    expect(vmxValue(guest.vmx, "scsi0:0.fileName")).toBe("rhel-like.vmdk");
    expect([0, 1, 2].map((i) => [vmxValue(guest.vmx, `ethernet${i}.virtualDev`), vmxValue(guest.vmx, `ethernet${i}.pciSlotNumber`), vmxValue(guest.vmx, `ethernet${i}.addressType`)])).toEqual([
      ["vmxnet3", "192", "generated"],
      ["e1000e", "224", "generated"],
      ["vmxnet3", "256", "generated"],
    ]);
    const macs = vmxMacs(guest.vmx);
    expect(macs).toHaveLength(3);
    expect(new Set(macs).size).toBe(3);
    for (const m of macs) expect(m).toMatch(/^00:0c:29(:[0-9a-f]{2}){3}$/);
  });

  it("is MBR: sda1 /boot (300 MiB ext4, grub's core image reading it), sda2 an LVM PV", () => {
    const t = partitions(raw);
    expect(t.label).toBe("dos");
    expect(t.partitions.map((p) => [p.start, p.size, p.type, p.bootable ?? false])).toEqual([
      [2048, 614400, "83", true],
      [616448, 3 * 1024 * 2048 - 616448, "8e", false],
    ]);
    expect(inside.vfs).toEqual({ "/dev/sda1": "ext4", "/dev/rhel/root": "xfs", "/dev/rhel/swap": "swap" });
    expect(inside.lvs.sort()).toEqual(["/dev/rhel/root", "/dev/rhel/swap"]);
    // grub's boot.img in the MBR, its modules on sda1 (the core image after the MBR is compressed)
    expect(readBytes(raw, 0, 440).toString("latin1")).toContain("GRUB");
    expect(ext4Ls(raw, MiB, "/grub/i386-pc")).toEqual(expect.arrayContaining(["normal.mod", "linux.mod", "ext2.mod"]));
    const cfg = ext4File(raw, MiB, "/grub/grub.cfg")!.toString();
    expect(cfg).toMatch(new RegExp(`linux /vmlinuz-${guest.kernel} root=/dev/mapper/rhel-root ro rd\\.lvm\\.lv=rhel/root rd\\.lvm\\.lv=rhel/swap console=tty0 console=ttyS0,115200n8`));
    expect(inside.files["/etc/default/grub"]).toContain('GRUB_CMDLINE_LINUX="rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap console=tty0 console=ttyS0,115200n8"');
    expect(inside.files["/etc/fstab"]).toMatch(/^\/dev\/mapper\/rhel-root\s+\/\s+xfs\s/m);
    expect(inside.files["/etc/fstab"]).toMatch(/^\/dev\/sda1\s+\/boot\s+ext4\s/m);
    expect(inside.files["/etc/fstab"]).toMatch(/^\/dev\/mapper\/rhel-swap\s+none\s+swap\s/m);
  });

  it("pins its PV in the LVM devices file, as RHEL 9 does", () => {
    expect(inside.files["/etc/lvm/lvm.conf"]).toMatch(/^\s*use_devicesfile = 1$/m);
    expect(inside.pvs).toHaveLength(1);
    expect(inside.pvs[0]!.name).toBe("/dev/sda2");
    expect(inside.files["/etc/lvm/devices/system.devices"]).toContain(`IDTYPE=devname IDNAME=/dev/sda2 DEVNAME=/dev/sda2 PVID=${inside.pvs[0]!.uuid} PART=2`);
  });

  it("runs dracut, host-only: its initramfs has vmw_pvscsi, LVM and XFS, and no virtio at all", () => {
    const pkgs = installedPackages(inside.files["/var/lib/dpkg/status"]!);
    for (const p of ["dracut", "lvm2", "xfsprogs", "network-manager", "nftables", "grub-pc"]) expect(pkgs.has(p), p).toBe(true);
    for (const p of ["initramfs-tools", "ifupdown"]) expect(pkgs.has(p), p).toBe(false);
    expect(inside.ls["/etc/dracut.conf.d"]).toEqual(["01-hostonly.conf"]);
    expect(inside.files["/etc/dracut.conf.d/01-hostonly.conf"]).toMatch(/^hostonly="yes"$/m);
    expect(inside.files["/etc/dracut.conf.d/01-hostonly.conf"]).not.toMatch(/virtio|omit|add_drivers/);
    expect(inside.ls["/boot"]).toContain(`initrd.img-${guest.kernel}`);
    const image = ext4File(raw, MiB, `/initrd.img-${guest.kernel}`)!;
    const l = listInitramfs(image, hostDecompress, "initrd");
    for (const m of ["vmw_pvscsi", "sd_mod", "dm_mod", "xfs"]) expect(l.modules.has(m), m).toBe(true);
    expect([...l.modules].filter((m) => /virtio/.test(m))).toEqual([]);
    expect(l.files.filter((f) => /virtio/.test(f))).toEqual([]);
    expect(l.files).toEqual(expect.arrayContaining(["usr/sbin/lvm", "etc/lvm/lvm.conf", "etc/lvm/devices/system.devices"]));
    // dracut, not initramfs-tools, made it
    expect(l.files.some((f) => /^usr\/lib\/dracut\//.test(f))).toBe(true);
    expect(l.files).not.toContain("scripts/local");
  });

  it("configures its NICs with NetworkManager keyfiles, ens256's first, and names them in nftables", () => {
    expect(inside.files["/etc/hostname"]).toBe("rhel-like\n");
    expect(inside.files["/etc/network/interfaces"]).toBeNull();
    expect(inside.ls["/etc/NetworkManager/system-connections"]).toEqual(["backup.nmconnection", "ens192.nmconnection", "ens224.nmconnection"]);
    const conn = (f: string) => inside.files[`/etc/NetworkManager/system-connections/${f}.nmconnection`]!;
    expect(conn("backup")).toMatch(/^interface-name=ens256$/m);
    expect(conn("backup")).toMatch(/^address1=10\.20\.30\.40\/24$/m);
    expect(conn("ens192")).toMatch(/^interface-name=ens192$/m);
    expect(conn("ens192")).toMatch(/^address1=192\.168\.50\.10\/24,192\.168\.50\.1$/m);
    expect(conn("ens192")).toMatch(/^dns=192\.168\.50\.1;$/m);
    expect(conn("ens224")).toMatch(/^interface-name=ens224$/m);
    expect(conn("ens224")).toMatch(/^method=auto$/m);
    for (const n of ["ens192", "ens224", "ens256"]) expect(inside.files["/etc/nftables.conf"]).toContain(`iifname "${n}"`);
    expect(inside.ls["/etc/systemd/system/sysinit.target.wants"]).toContain("nftables.service");
    expect(inside.ls["/etc/systemd/system/multi-user.target.wants"]).toEqual(expect.arrayContaining(["ferry-nic-report.service", "NetworkManager.service"]));
    expect(inside.files["/etc/systemd/system/ferry-nic-report.service"]).toMatch(/^Before=serial-getty@ttyS0\.service getty\.target$/m);
  });

  it("does not boot from a plain copy on virtio: host-only dracut has no virtio_blk, the root never appears", async () => {
    const consoleLog = join(work, "console.log");
    const r = await bootCheck({
      disks: [{ path: raw, format: "raw", bus: "virtio", pciBus: 1 }],
      nics: vmxMacs(guest.vmx).map((mac, i) => ({ model: "virtio", mac, pciBus: i + 2 })),
      rootPorts: 4,
      firmware: "bios",
      memoryMiB: 1024,
      vcpus: 2,
      consoleLog,
      screenshot: join(work, "screen.png"),
      timeoutMs: 150_000, // the kernel and dracut start well within this; the root never comes
    });
    const text = consoleText(readFileSync(consoleLog, "latin1"));
    expect(r.ok).toBe(false);
    expect(text).not.toMatch(/\slogin:/);
    // the kernel and dracut did start: the failure is the root device, not the boot loader
    expect(text).toMatch(/Linux version 6\./);
    expect(text).toMatch(/dracut/);
    expect(text).toMatch(/rhel-root|Could not boot|emergency/i);
  }, 15 * 60_000);
});
