import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { FerryError } from "../errors";
import { hostDecompress } from "./inspect";
import { listInitramfs } from "./initramfs";

/** A cpio "newc" archive of the given files, as the kernel and initramfs-tools write it. */
function cpio(files: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  for (const [name, data] of [...files, ["TRAILER!!!", ""] as [string, string]]) {
    const body = Buffer.from(data);
    const nameBuf = Buffer.from(`${name}\0`);
    const hex = (n: number) => n.toString(16).padStart(8, "0");
    const header = Buffer.from(`070701${[ino++, 0o100644, 0, 0, 1, 0, body.length, 0, 0, 0, 0, nameBuf.length, 0].map(hex).join("")}`, "latin1");
    parts.push(header, nameBuf, pad(110 + nameBuf.length), body, pad(body.length));
  }
  const out = Buffer.concat(parts);
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}

const MAIN: Array<[string, string]> = [
  ["init", "#!/bin/sh"],
  ["usr/lib/modules/6.1.0-50-amd64/kernel/drivers/block/virtio_blk.ko", "x"],
  ["usr/lib/modules/6.1.0-50-amd64/kernel/drivers/scsi/virtio_scsi.ko.xz", "x"],
  ["usr/lib/modules/6.1.0-50-amd64/kernel/drivers/scsi/vmw_pvscsi.ko.zst", "x"],
  ["lib/modules/6.1.0-50-amd64/kernel/drivers/net/virtio-net.ko", "x"],
];
const MICROCODE: Array<[string, string]> = [["kernel/x86/microcode/AuthenticAMD.bin", "ucode"]];

describe("listInitramfs", () => {
  it("lists an uncompressed archive and its modules (any .ko compression, dashes as underscores)", () => {
    const l = listInitramfs(cpio(MAIN), hostDecompress, "/boot/initrd.img");
    expect(l.segments).toEqual(["cpio"]);
    expect(l.files).toContain("init");
    expect([...l.modules].sort()).toEqual(["virtio_blk", "virtio_net", "virtio_scsi", "vmw_pvscsi"]);
  });

  it("reads past an early-microcode archive into a gzip one", () => {
    const l = listInitramfs(Buffer.concat([cpio(MICROCODE), gzipSync(cpio(MAIN))]), hostDecompress, "/boot/initrd.img");
    expect(l.segments).toEqual(["cpio", "gzip", "cpio"]);
    expect(l.files).toContain("kernel/x86/microcode/AuthenticAMD.bin");
    expect(l.modules.has("virtio_blk")).toBe(true);
  });

  it("reads zstd (Debian 12's default) and xz through the host's tools", () => {
    for (const [kind, tool] of [["zstd", ["zstd", "-q", "-c"]], ["xz", ["xz", "-c", "--check=crc32"]]] as const) {
      const z = spawnSync(tool[0], tool.slice(1), { input: cpio(MAIN) });
      expect(z.status).toBe(0);
      const l = listInitramfs(Buffer.concat([cpio(MICROCODE), z.stdout]), hostDecompress, "/boot/initrd.img");
      expect(l.segments).toEqual(["cpio", kind, "cpio"]);
      expect(l.modules.has("virtio_scsi")).toBe(true);
    }
  });

  it("names the file and the byte where a damaged archive stops making sense", () => {
    const bad = Buffer.concat([Buffer.from("070701"), Buffer.alloc(50, 0x41)]);
    expect(() => listInitramfs(bad, hostDecompress, "/boot/initrd.img-x")).toThrow(/ends inside a header at byte 0/);
    const junk = Buffer.from("this is not an initramfs at all");
    try {
      listInitramfs(junk, hostDecompress, "/boot/initrd.img-x");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FerryError);
      expect((e as FerryError).file).toBe("/boot/initrd.img-x");
      expect((e as FerryError).code).toBe("initramfs.format");
    }
    const truncated = cpio(MAIN).subarray(0, 300);
    expect(() => listInitramfs(truncated, hostDecompress, "f")).toThrow(FerryError);
    expect(() => listInitramfs(Buffer.from([0x1f, 0x8b, 1, 2, 3]), hostDecompress, "f")).toThrow();
    // A compressed archive inside a compressed archive is no initramfs (and a way to multiply a bomb).
    expect(() => listInitramfs(gzipSync(gzipSync(cpio(MAIN))), hostDecompress, "f")).toThrow(/compressed data inside a compressed archive/);
  });
});

describe("cpioArchive and insertEarlyArchive", () => {
  it("writes an archive the lister (and the kernel's format) reads, inserted before the compressed part", async () => {
    const { cpioArchive, insertEarlyArchive, listInitramfs } = await import("./initramfs");
    const { gzipSync, gunzipSync } = await import("node:zlib");
    const link = Buffer.from("[Match]\nMACAddress=00:0c:29:aa:00:01\n\n[Link]\nName=ens192\n");
    const ours = cpioArchive([
      { path: "etc", mode: 0o040755 },
      { path: "etc/systemd/network", mode: 0o040755 },
      { path: "etc/systemd/network/50-ferry-ens192.link", mode: 0o100644, data: link },
    ]);
    expect(ours.length % 512).toBe(0);
    const main = gzipSync(cpioArchive([{ path: "usr/lib/modules/6.1/virtio_blk.ko", mode: 0o100644, data: Buffer.from("x") }]));
    const early = cpioArchive([{ path: "kernel/x86/microcode/GenuineIntel.bin", mode: 0o100644, data: Buffer.from("ucode") }]);
    const image = Buffer.concat([early, main]);
    const out = insertEarlyArchive(image, ours, "initrd");
    const l = listInitramfs(out, (_k, d) => gunzipSync(d), "initrd");
    expect(l.segments).toEqual(["cpio", "cpio", "gzip", "cpio"]);
    // Microcode stays first, the image's own archive last.
    expect(l.files).toEqual(["kernel/x86/microcode/GenuineIntel.bin", "etc", "etc/systemd/network", "etc/systemd/network/50-ferry-ens192.link", "usr/lib/modules/6.1/virtio_blk.ko"]);
    expect(out.subarray(out.length - main.length).equals(main)).toBe(true);
    // An image that is only compressed gets the archive in front.
    expect(listInitramfs(insertEarlyArchive(main, ours, "x"), (_k, d) => gunzipSync(d), "x").segments).toEqual(["cpio", "gzip", "cpio"]);
    // The file's bytes survive, at a 4-byte-aligned offset as newc requires.
    const at = ours.indexOf(link);
    expect(at % 4).toBe(0);
    expect(() => insertEarlyArchive(Buffer.from("garbage!"), ours, "bad")).toThrow(expect.objectContaining({ code: "initramfs.format", file: "bad" }));
  });
});
