import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_VMX_BYTES } from "../vmx";
import { readVmxFile } from "./vmx-file";

const dir = mkdtempSync(join(tmpdir(), "ferry-vmx-file-"));
const write = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
  return p;
};

async function errorOf(path: string, options = {}) {
  const r = await readVmxFile(path, options);
  if (r.ok) throw new Error("expected an error");
  return r.error;
}

describe("readVmxFile", () => {
  it("reads a guest and checks which of its files exist", async () => {
    const vmx = write(
      "web/web.vmx",
      ['displayName = "web"', 'scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "web.vmdk"', 'scsi0:1.present = "TRUE"', 'scsi0:1.fileName = "lost.vmdk"'].join("\n"),
    );
    write("web/web.vmdk", "# Disk DescriptorFile\n");
    const before = statSync(vmx).mtimeMs;
    const r = await readVmxFile(vmx);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.vm.disks.map((d) => d.path)).toEqual([join(dir, "web/web.vmdk"), join(dir, "web/lost.vmdk")]);
    expect(r.vm.concerns.map((c) => [c.id, c.device])).toEqual([["vmx.disk.missing", "scsi0:1"]]);
    expect(statSync(vmx).mtimeMs).toBe(before);
  });

  it("names a file that does not exist", async () => {
    expect((await errorOf(join(dir, "nope.vmx"))).toJSON()).toMatchObject({ code: "vmx.not-found", file: join(dir, "nope.vmx") });
  });

  it("refuses a folder", async () => {
    expect((await errorOf(dir)).code).toBe("vmx.not-a-file");
  });

  it("refuses a FIFO without hanging", async () => {
    const fifo = join(dir, "pipe.vmx");
    execFileSync("mkfifo", [fifo]);
    expect((await errorOf(fifo)).code).toBe("vmx.not-a-file");
  });

  it("refuses a symlink when asked not to follow one", async () => {
    const target = write("real.vmx", 'memsize = "64"\n');
    const link = join(dir, "link.vmx");
    symlinkSync(target, link);
    expect((await errorOf(link, { noFollow: true })).code).toBe("vmx.symlink");
    expect((await readVmxFile(link)).ok).toBe(true);
  });

  it("refuses a huge file after reading only past the limit", async () => {
    const big = write("big.vmx", Buffer.alloc(MAX_VMX_BYTES + 4096, 0x23));
    expect((await errorOf(big)).code).toBe("vmx.too-large");
  });

  it("refuses a VMDK given as the VMX", async () => {
    const vmdk = write("disk.vmdk", Buffer.concat([Buffer.from("KDMV"), Buffer.alloc(508)]));
    expect((await errorOf(vmdk)).toJSON()).toMatchObject({ code: "vmx.is-vmdk", file: vmdk });
  });

  it.skipIf(process.getuid?.() === 0)("names a file it may not read", async () => {
    const locked = write("locked.vmx", 'memsize = "64"\n');
    chmodSync(locked, 0o000);
    expect((await errorOf(locked)).code).toBe("vmx.unreadable");
  });
});
