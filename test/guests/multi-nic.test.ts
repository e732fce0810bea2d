import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootCheck } from "../../server/qemu/boot-check";
import { consoleText } from "../../server/qemu/console";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { ESXI_NICS, esxiNics, ext4File, ext4Ls, installedPackages, nicReport, partitions, plainCopy, vmxValue } from "./helpers";

/**
 * multi-nic: the Debian guest's shape with three NICs as ESXi lays them out
 * (vmxnet3 slot 192, e1000e 224, vmxnet3 256), ifupdown listing ens256
 * first. A plain copy on virtio boots, but without its network identity:
 * the NICs get other names and ferry-nic-report finds none of them.
 */

const MiB = 1024 * 1024;
let guest: LinuxGuest;
let work: string;
let raw: string;
const text = (path: string) => ext4File(raw, MiB, path)?.toString("latin1") ?? null;

beforeAll(() => {
  guest = linuxGuest("multi-nic");
  work = mkdtempSync(join(tmpdir(), "ferry-multi-nic-"));
  raw = plainCopy(guest.vmdks[0]!, work);
}, 40 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the multi-nic guest", () => {
  it("has a VMX with three NICs as ESXi lays them out, each with its own generated MAC", () => {
    expect(guest.vmxs).toEqual([guest.vmx]);
    expect(vmxValue(guest.vmx, "guestOS")).toBe("debian12-64");
    expect(vmxValue(guest.vmx, "scsi0.virtualDev")).toBe("pvscsi");
    expect(vmxValue(guest.vmx, "scsi0.pciSlotNumber")).toBe("160");
    const { nics, macs } = esxiNics(guest.vmx);
    expect(nics).toEqual(ESXI_NICS);
    expect(new Set(macs).size).toBe(3);
    for (const m of macs) expect(m).toMatch(/^00:0c:29(:[0-9a-f]{2}){3}$/);
    expect(vmxValue(guest.vmx, "ethernet3.present")).toBeNull();
  });

  it("is today's Debian shape: MBR, ext4 on /dev/sda1, initramfs-tools, ifupdown", () => {
    const t = partitions(raw);
    expect(t.label).toBe("dos");
    expect(t.partitions.map((p) => [p.start, p.type, p.bootable ?? false])).toEqual([[2048, "83", true]]);
    expect(text("/etc/fstab")).toMatch(/^\/dev\/sda1\t\/\text4\t/m);
    expect(text("/etc/hostname")).toBe("multi-nic\n");
    const pkgs = installedPackages(text("/var/lib/dpkg/status")!);
    for (const p of ["initramfs-tools", "ifupdown", "isc-dhcp-client", "nftables", "grub-pc"]) expect(pkgs.has(p), p).toBe(true);
    expect(ext4Ls(raw, MiB, "/boot")).toContain(`initrd.img-${guest.kernel}`);
  });

  it("configures ens256 first, then ens192 (static, gateway, DNS), then ens224 (DHCP); nftables names all three", () => {
    const ifaces = text("/etc/network/interfaces")!;
    const stanzas = [...ifaces.matchAll(/^iface (\S+) inet (\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(stanzas).toEqual([
      ["lo", "loopback"],
      ["ens256", "static"],
      ["ens192", "static"],
      ["ens224", "dhcp"],
    ]);
    expect(ifaces).toMatch(/iface ens256 inet static\n\taddress 10\.20\.30\.40\/24\n/);
    expect(ifaces).toMatch(/iface ens192 inet static\n\taddress 192\.168\.50\.10\/24\n\tgateway 192\.168\.50\.1\n\tdns-nameservers 192\.168\.50\.1\n/);
    const nft = text("/etc/nftables.conf")!;
    for (const n of ["ens192", "ens224", "ens256"]) expect(nft).toContain(`iifname "${n}"`);
    expect(ext4Ls(raw, MiB, "/etc/systemd/system/sysinit.target.wants")).toContain("nftables.service");
    expect(ext4Ls(raw, MiB, "/etc/systemd/system/multi-user.target.wants")).toContain("ferry-nic-report.service");
    const unit = text("/etc/systemd/system/ferry-nic-report.service")!;
    expect(unit).toMatch(/^After=network\.target$/m);
    expect(unit).toMatch(/^Before=serial-getty@ttyS0\.service getty\.target$/m);
  });

  it("boots from a plain copy on virtio, but without its network: ens192, ens224 and ens256 are absent", async () => {
    const consoleLog = join(work, "console.log");
    const { macs } = esxiNics(guest.vmx);
    const r = await bootCheck({
      disks: [{ path: raw, format: "raw", bus: "virtio", pciBus: 1 }],
      nics: macs.map((mac, i) => ({ model: "virtio", mac, pciBus: i + 2 })),
      rootPorts: 4,
      firmware: "bios",
      memoryMiB: 1024,
      vcpus: 2,
      consoleLog,
      screenshot: join(work, "screen.png"),
    });
    const console = consoleText(readFileSync(consoleLog, "latin1"));
    // MODULES=most carries virtio: the system itself comes up...
    expect(r.ok, r.lastLines.join("\n")).toBe(true);
    expect(r.line).toBe("multi-nic login:");
    // ...but the NICs are enpNs0 now, so nothing configures them.
    expect(nicReport(console)).toEqual({ ens192: "absent", ens224: "absent", ens256: "absent" });
    expect(console).not.toMatch(/addr=192\.168\.50\.10/);
    expect(r.dhcpFrom).toEqual([]);
  }, 15 * 60_000);
});
