import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { PipelineEvent } from "../../server/pipeline";
import { bootCheck } from "../../server/qemu/boot-check";
import { hostDecompress } from "../../server/convert/inspect";
import { listInitramfs } from "../../server/convert/initramfs";
import { debianGuests, type DebianGuests } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { guestFile, guestText, run, asLinux } from "./helpers";

/**
 * The "strict" guest: like many real VMware guests its initramfs holds only
 * the drivers it booted with (MODULES=list, vmw_pvscsi) and grub says
 * root=/dev/sda1. A plain copy does not boot on virtio; the converted one does.
 */

let guests: DebianGuests;
beforeAll(() => {
  guests = debianGuests();
}, 20 * 60_000);

describe("the strict Debian guest", () => {
  it("does not boot from a plain copy on virtio: the initramfs has no virtio_blk and /dev/sda1 never appears", async () => {
    const work = mkdtempSync(join(tmpdir(), "ferry-strict-plain-"));
    try {
      const raw = join(work, "plain.raw");
      execFileSync("qemu-img", ["convert", "-q", "-f", "vmdk", "-O", "raw", join(dirname(guests.strict), "debian12-strict.vmdk"), raw]);
      const l = listInitramfs(guestFile(raw, `/boot/initrd.img-${guests.kernel}`)!, hostDecompress, "initrd");
      expect(l.modules.has("vmw_pvscsi")).toBe(true);
      expect(l.modules.has("virtio_blk")).toBe(false);
      const r = await bootCheck({
        disks: [{ path: raw, format: "raw", bus: "virtio", pciBus: 1 }],
        nics: [],
        rootPorts: 1,
        firmware: "bios",
        memoryMiB: 1024,
        vcpus: 2,
        consoleLog: join(work, "console.log"),
        screenshot: join(work, "screen.png"),
      });
      expect(r.ok).toBe(false);
      expect(r.failure).toMatch(/\/dev\/sda1 does not exist/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 15 * 60_000);

  it("converts: the initramfs is rebuilt with the virtio drivers, grub's root= follows, and it boots", async () => {
    const out = mkdtempSync(join(tmpdir(), "ferry-strict-"));
    const before = fingerprint(dirname(guests.strict));
    const r = await run(guests.strict, { outputDir: out });
    expect(r.error).toBeNull();
    const conversion = asLinux(r.events.find((e): e is Extract<PipelineEvent, { type: "conversion" }> => e.type === "conversion")!.report);
    expect(conversion.initramfs.rebuilt).toBe(true);
    expect(conversion.initramfs.added).toEqual(expect.arrayContaining(["virtio_blk", "virtio_pci"]));
    const disk = join(out, "debian12-strict-vda");
    const l = listInitramfs(guestFile(disk, `/boot/initrd.img-${guests.kernel}`)!, hostDecompress, "initrd");
    for (const m of ["virtio_blk", "virtio_scsi", "virtio_net", "virtio_pci", "vmw_pvscsi"]) expect(l.modules.has(m)).toBe(true);
    expect(guestText(disk, "/etc/initramfs-tools/modules")).toMatch(/# added by Ferry for KVM\n(virtio_\w+\n)+/);
    // GRUB_DISABLE_LINUX_UUID=true: grub-mkconfig wrote a device name, now the target's.
    expect(guestText(disk, "/boot/grub/grub.cfg")).toMatch(/root=\/dev\/vda1 ro/);
    const boot = r.events.find((e): e is Extract<PipelineEvent, { type: "boot" }> => e.type === "boot")!;
    expect(boot.ok).toBe(true);
    expect(boot.line).toBe("debian12 login:");
    expect(fingerprint(dirname(guests.strict))).toEqual(before);
    rmSync(out, { recursive: true, force: true });
  }, 20 * 60_000);
});
