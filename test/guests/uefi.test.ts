import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootCheck } from "../../server/qemu/boot-check";
import { consoleText } from "../../server/qemu/console";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { ESXI_NICS, esxiNics, ext4File, ext4Ls, installedPackages, partitions, plainCopy, readBytes, vmxValue } from "./helpers";

/**
 * uefi: Debian 12 on UEFI as the Debian installer leaves it on VMware: GPT,
 * an ESP holding Debian's signed chain in \EFI\debian and no \EFI\BOOT
 * fallback (the boot entry lives in the VM's NVRAM, which does not travel),
 * netplan with networkd. uefi.vmx and uefi-sb.vmx (Secure Boot) share the
 * disk. A plain copy with fresh OVMF variables finds nothing to boot.
 */

const ESP_AT = 2048 * 512;
const ROOT_AT = 206848 * 512;
let guest: LinuxGuest;
let work: string;
let raw: string;
const text = (path: string) => ext4File(raw, ROOT_AT, path)?.toString("latin1") ?? null;
/** mtools on the ESP inside the raw image. */
const esp = (cmd: string, ...args: string[]) => execFileSync(cmd, ["-i", `${raw}@@${ESP_AT}`, ...args], { encoding: "latin1", maxBuffer: 64 * 1024 ** 2 });

beforeAll(() => {
  guest = linuxGuest("uefi");
  work = mkdtempSync(join(tmpdir(), "ferry-uefi-"));
  raw = plainCopy(guest.vmdks[0]!, work);
}, 40 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the uefi guest", () => {
  it("has two VMX files on one disk: uefi.vmx, and uefi-sb.vmx with Secure Boot, other MACs and uuid.bios", () => {
    expect(guest.vmxs.map((v) => v.split("/").at(-1))).toEqual(["uefi-sb.vmx", "uefi.vmx"]);
    expect(guest.vmdks.map((v) => v.split("/").at(-1))).toEqual(["uefi.vmdk"]);
    const sb = guest.vmxs[0]!;
    for (const vmx of guest.vmxs) {
      expect(vmxValue(vmx, "firmware")).toBe("efi");
      expect(vmxValue(vmx, "scsi0.virtualDev")).toBe("pvscsi");
      expect(vmxValue(vmx, "scsi0:0.fileName")).toBe("uefi.vmdk");
      expect(esxiNics(vmx).nics).toEqual(ESXI_NICS);
    }
    expect(vmxValue(guest.vmx, "displayName")).toBe("uefi");
    expect(vmxValue(guest.vmx, "nvram")).toBe("uefi.nvram");
    expect(vmxValue(guest.vmx, "uefi.secureBoot.enabled")).toBeNull();
    expect(vmxValue(sb, "displayName")).toBe("uefi-sb");
    expect(vmxValue(sb, "uefi.secureBoot.enabled")).toBe("TRUE");
    expect(vmxValue(sb, "uuid.bios")).not.toBe(vmxValue(guest.vmx, "uuid.bios"));
    const macs = [...esxiNics(guest.vmx).macs, ...esxiNics(sb).macs];
    expect(new Set(macs).size).toBe(6);
    for (const m of macs) expect(m).toMatch(/^00:0c:29(:[0-9a-f]{2}){3}$/);
  });

  it("is GPT: a 100 MiB FAT32 ESP, then ext4 root", () => {
    const t = partitions(raw);
    expect(t.label).toBe("gpt");
    expect(t.partitions.map((p) => [p.start, p.type])).toEqual([
      [2048, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"],
      [206848, "0FC63DAF-8483-4772-8E79-3D69D8477DE4"],
    ]);
    expect(t.partitions[0]!.size).toBe(204800);
    expect(execFileSync("file", ["-s", "-"], { input: readBytes(raw, ESP_AT, 512), encoding: "utf8" })).toMatch(/FAT \(32 bit\)/);
    expect(text("/etc/fstab")).toMatch(/^UUID=5A3C-1D2E\s+\/boot\/efi\s+vfat\s/m);
    expect(text("/etc/fstab")).toMatch(/^UUID=\S+\s+\/\s+ext4\s/m);
  });

  it("holds Debian's signed chain in \\EFI\\debian as grub-install leaves it, and no \\EFI\\BOOT fallback", () => {
    expect(esp("mdir", "-b", "::/EFI").split("\n").filter(Boolean)).toEqual(["::/EFI/debian/"]);
    const files = esp("mdir", "-b", "::/EFI/debian").split("\n").filter(Boolean).map((f) => f.replace("::/EFI/debian/", "")).sort();
    expect(files).toEqual(["BOOTX64.CSV", "grub.cfg", "grubx64.efi", "mmx64.efi", "shimx64.efi"]);
    // byte for byte the packages' signed binaries
    expect(Buffer.from(esp("mtype", "::/EFI/debian/shimx64.efi"), "latin1").equals(ext4File(raw, ROOT_AT, "/usr/lib/shim/shimx64.efi.signed")!)).toBe(true);
    expect(Buffer.from(esp("mtype", "::/EFI/debian/grubx64.efi"), "latin1").equals(ext4File(raw, ROOT_AT, "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed")!)).toBe(true);
    const rootUuid = /^UUID=(\S+)\s+\/\s/m.exec(text("/etc/fstab")!)![1]!;
    expect(esp("mtype", "::/EFI/debian/grub.cfg")).toBe(`search.fs_uuid ${rootUuid} root hd0,gpt2 \nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n`);
    expect(text("/boot/grub/grub.cfg")).toMatch(new RegExp(`linux /boot/vmlinuz-${guest.kernel} root=UUID=${rootUuid} ro console=tty0 console=ttyS0,115200n8`));
    const pkgs = installedPackages(text("/var/lib/dpkg/status")!);
    for (const p of ["shim-signed", "grub-efi-amd64-signed", "grub-efi-amd64", "linux-image-amd64", "netplan.io", "nftables", "initramfs-tools"]) expect(pkgs.has(p), p).toBe(true);
    for (const p of ["grub-pc", "ifupdown"]) expect(pkgs.has(p), p).toBe(false);
  });

  it("configures its NICs with netplan on networkd, ens256 first; nftables names them", () => {
    expect(ext4Ls(raw, ROOT_AT, "/etc/netplan")).toEqual(["01-netcfg.yaml"]);
    const plan = text("/etc/netplan/01-netcfg.yaml")!;
    expect(plan).toMatch(/^ {2}renderer: networkd$/m);
    expect([...plan.matchAll(/^ {4}(ens\d+):$/gm)].map((m) => m[1])).toEqual(["ens256", "ens192", "ens224"]);
    expect(plan).toMatch(/ens256:\n {6}addresses: \[10\.20\.30\.40\/24\]\n/);
    expect(plan).toMatch(/ens192:\n {6}addresses: \[192\.168\.50\.10\/24\]\n/);
    expect(plan).toMatch(/ens224:\n {6}dhcp4: true\n/);
    expect(text("/etc/network/interfaces")).toBeNull();
    expect(ext4Ls(raw, ROOT_AT, "/etc/systemd/system/multi-user.target.wants")).toEqual(expect.arrayContaining(["systemd-networkd.service", "ferry-nic-report.service"]));
    for (const n of ["ens192", "ens224", "ens256"]) expect(text("/etc/nftables.conf")).toContain(`iifname "${n}"`);
  });

  it("does not boot from a plain copy with fresh OVMF variables: no boot entry, no \\EFI\\BOOT\\BOOTX64.EFI", async () => {
    const consoleLog = join(work, "console.log");
    const r = await bootCheck({
      disks: [{ path: raw, format: "raw", bus: "virtio", pciBus: 1 }],
      nics: esxiNics(guest.vmx).macs.map((mac, i) => ({ model: "virtio", mac, pciBus: i + 2 })),
      rootPorts: 4,
      firmware: "uefi",
      memoryMiB: 1024,
      vcpus: 2,
      consoleLog,
      screenshot: join(work, "screen.png"),
      timeoutMs: 240_000,
    });
    const console = consoleText(readFileSync(consoleLog, "latin1"));
    expect(r.ok).toBe(false);
    expect(console).not.toMatch(/\slogin:/);
    // neither shim nor grub nor a kernel ever ran
    expect(console).not.toMatch(/Linux version|GNU GRUB|Welcome to GRUB/);
    expect(console).toMatch(/BdsDxe|UEFI Interactive Shell|Shell>|No bootable option/);
  }, 15 * 60_000);
});
