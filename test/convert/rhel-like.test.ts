import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostDecompress } from "../../server/convert/inspect";
import { listInitramfs } from "../../server/convert/initramfs";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { eventOf, nicReport, run, vmxMacs, type Run, asLinux } from "./helpers";
import { spawnSync } from "node:child_process";

/**
 * The RHEL-shaped guest (Debian packages in RHEL's shape): dracut host-only
 * with no virtio, root on an XFS logical volume, swap on another, /boot on
 * /dev/sda1, LVM's devices file pinning the PV by VMware's disk serial,
 * NetworkManager keyfiles for three NICs. A plain copy does not boot
 * (test/guests/rhel-like.test.ts); the converted one does, with every NIC's
 * address on the NIC that had it.
 */

let guest: LinuxGuest;
let out: string;
let r: Run;
let macs: string[];
let before: Record<string, string>;

/** A file from the /boot partition (ext4 at 1 MiB) of the output disk. */
function bootFile(raw: string, path: string): Buffer | null {
  const d = spawnSync("debugfs", ["-R", `cat ${path}`, `${raw}?offset=1048576`], { maxBuffer: 512 * 1024 ** 2 });
  return d.status === 0 && d.stdout.length ? d.stdout : null;
}

beforeAll(async () => {
  guest = linuxGuest("rhel-like");
  macs = vmxMacs(readFileSync(guest.vmx, "utf8"));
  out = mkdtempSync(join(tmpdir(), "ferry-rhel-like-"));
  before = fingerprint(guest.folder);
  r = await run(guest.vmx, { outputDir: out });
}, 40 * 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the RHEL-shaped guest (dracut, LVM, XFS, separate /boot, NetworkManager)", () => {
  it("converts and boots on virtio, the source unchanged", () => {
    expect(r.error).toBeNull();
    const boot = eventOf(r, "boot");
    expect(boot.ok).toBe(true);
    expect(boot.line).toBe("rhel-like login:");
    expect(fingerprint(guest.folder)).toEqual(before);
  });

  it("checked every filesystem read-only first: XFS on the LV, ext4 on /boot", () => {
    const g = eventOf(r, "inspection").guest;
    expect(g.initramfsTool).toBe("dracut");
    expect(g.fsChecks.map((c) => [c.mountpoint, c.type, c.result])).toEqual(expect.arrayContaining([["/", "xfs", "clean"], ["/boot", "ext4", "clean"]]));
  });

  it("rebuilt the initramfs with dracut (what the guest has), with the virtio drivers, and removed LVM's devices file", () => {
    const c = asLinux(eventOf(r, "conversion").report);
    expect(c.initramfs).toMatchObject({ tool: "dracut", rebuilt: true, added: expect.arrayContaining(["virtio_blk", "virtio_pci"]) });
    expect(c.lvmDevicesRemoved).toContain("/etc/lvm/devices/system.devices");
    expect(c.remapped).toContainEqual({ file: "/etc/fstab", from: "/dev/sda1", to: "/dev/vda1" });
    const initrd = bootFile(join(out, "rhel-like-vda"), `/initramfs-${guest.kernel}.img`) ?? bootFile(join(out, "rhel-like-vda"), `/initrd.img-${guest.kernel}`);
    expect(initrd).not.toBeNull();
    const l = listInitramfs(initrd!, hostDecompress, "initramfs");
    for (const m of ["virtio_blk", "virtio_pci", "virtio_scsi", "xfs", "dm_mod"]) expect(l.modules.has(m), m).toBe(true);
    // Host-only: dracut in the appliance keeps what the machine it runs on needs, plus Ferry's virtio drivers; VMware's pvscsi goes.
    expect(l.modules.has("vmw_pvscsi")).toBe(false);
  });

  it("keeps each NIC's name, pinned to its MAC, and its NetworkManager addresses on the right NIC", () => {
    const nics = asLinux(eventOf(r, "conversion").report).nics;
    expect(nics.map((n) => [n.guestName, n.approach])).toEqual([["ens192", "pinned"], ["ens224", "pinned"], ["ens256", "pinned"]]);
    const boot = eventOf(r, "boot");
    expect(boot.nics![0]).toMatchObject({ mac: macs[0], addresses: expect.arrayContaining(["192.168.50.10"]) });
    expect(boot.nics![1]).toMatchObject({ mac: macs[1], dhcp: true });
    expect(boot.nics![2]).toMatchObject({ mac: macs[2], addresses: expect.arrayContaining(["10.20.30.40"]) });
    const report = nicReport(readFileSync(join(out, "rhel-like-console.log"), "utf8"));
    expect(report.ens192).toEqual({ mac: macs[0], addr: "192.168.50.10/24" });
    expect(report.ens256).toEqual({ mac: macs[2], addr: "10.20.30.40/24" });
  });
});
