import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hostDecompress } from "../../server/convert/inspect";
import { listInitramfs } from "../../server/convert/initramfs";
import { debianGuests, type DebianGuests } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { guestFile, guestText, validateXml } from "./helpers";

/**
 * The whole conversion of a real Debian 12 VMware guest (pvscsi, vmxnet3,
 * open-vm-tools, fstab on /dev/sda1, network on ens192) through the CLI,
 * checked inside the output disk afterwards, and booted.
 */

let guests: DebianGuests;
beforeAll(() => {
  guests = debianGuests();
}, 20 * 60_000);

describe("ferry -i vmx debian12.vmx -o local -os DIR", () => {
  let out: string;
  let stdout: string;
  let stderr: string;
  let status: number | null;
  let before: Record<string, string>;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "ferry-debian12-"));
    before = fingerprint(dirname(guests.debian12));
    const r = spawnSync(resolve(__dirname, "../../bin/ferry"), ["-i", "vmx", guests.debian12, "-o", "local", "-os", out], { encoding: "utf8", timeout: 20 * 60_000 });
    ({ stdout, stderr, status } = r);
  }, 20 * 60_000);

  it("succeeds through every stage, the boot check included", () => {
    expect(stderr).not.toMatch(/error/);
    expect(status).toBe(0);
    for (const stage of ["Inspecting the overlay", "Converting the guest to run on KVM", "Copying disk 1/1", "Checking that the guest boots", "Finishing off"]) expect(stdout).toContain(`] ${stage}`);
    expect(stderr).toMatch(/boot check passed in [\d.]+ s/);
    expect(readdirSync(out).sort()).toEqual(["debian12-console.log", "debian12-screen.png", "debian12-vda", "debian12.xml"]);
  });

  it("leaves the source byte-identical", () => {
    expect(fingerprint(dirname(guests.debian12))).toEqual(before);
  });

  it("names /dev/vda1 in fstab and nothing of /dev/sda in grub.cfg, with a serial console", () => {
    const disk = join(out, "debian12-vda");
    expect(guestText(disk, "/etc/fstab")).toBe("/dev/vda1\t/\text4\terrors=remount-ro\t0\t1\n");
    const grub = guestText(disk, "/boot/grub/grub.cfg")!;
    expect(grub).toMatch(/linux\s+\/boot\/vmlinuz-\S+ root=UUID=\S+ ro .*console=ttyS0/);
    expect(grub).not.toMatch(/\/dev\/sd[a-z]/);
    expect(guestText(disk, "/etc/default/grub")).toMatch(/console=ttyS0/);
  });

  it("keeps Debian's initramfs, which already carries the virtio drivers", () => {
    const initrd = guestFile(join(out, "debian12-vda"), `/boot/initrd.img-${guests.kernel}`)!;
    const l = listInitramfs(initrd, hostDecompress, "initrd");
    for (const m of ["virtio_blk", "virtio_scsi", "virtio_net", "virtio_pci"]) expect(l.modules.has(m)).toBe(true);
    expect(stderr).toContain("initramfs already had virtio_blk");
    // Not rebuilt: the .link file that keeps the NIC's name goes in as an early archive.
    expect(l.files).toContain("etc/systemd/network/50-ferry-ens192.link");
    expect(l.segments[0]).toBe("cpio");
    expect(stderr).not.toMatch(/initramfs rebuilt/);
    expect(stderr).toContain("initramfs carries /etc/systemd/network/50-ferry-ens192.link");
  });

  it("removes open-vm-tools", () => {
    const disk = join(out, "debian12-vda");
    expect(guestText(disk, "/var/lib/dpkg/status")).not.toMatch(/^Package: open-vm-tools$/m);
    expect(guestFile(disk, "/usr/bin/vmtoolsd")).toBeNull();
    expect(guestFile(disk, "/usr/bin/ls")).not.toBeNull();
  });

  it("keeps the NIC's name ens192, pinned to its MAC, with its configuration untouched, and the booted guest asked for DHCP from that MAC", () => {
    const disk = join(out, "debian12-vda");
    expect(guestText(disk, "/etc/network/interfaces")).toMatch(/^allow-hotplug ens192\niface ens192 inet dhcp$/m);
    expect(guestText(disk, "/etc/systemd/network/50-ferry-ens192.link")).toMatch(/\[Match\]\nMACAddress=00:0c:29:5e:7a:01\n\n\[Link\]\nName=ens192\n/);
    expect(stderr).toContain("ethernet0 keeps ens192 (pinned to 00:0c:29:5e:7a:01)");
    expect(stderr).toMatch(/boot check: NIC 00:0c:29:5e:7a:01 \(virtio\): DHCP request/);
  });

  it("writes valid libvirt XML with virtio devices, a console log with the login prompt and a PNG screenshot", () => {
    const xml = join(out, "debian12.xml");
    validateXml(xml);
    const text = readFileSync(xml, "utf8");
    expect(text).toContain("<target dev='vda' bus='virtio'/>");
    expect(text).toContain("<model type='virtio'/>");
    expect(text).toContain("<mac address='00:0c:29:5e:7a:01'/>");
    expect(readFileSync(join(out, "debian12-console.log"), "utf8")).toMatch(/debian12 login:/);
    const png = readFileSync(join(out, "debian12-screen.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(640); // the VGA console's width
  });
});
