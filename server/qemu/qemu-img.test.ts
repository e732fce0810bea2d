import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { safeBacking } from "./qemu-img";
import { convert, createOverlay, info, measure, ProgressParser, QUERY_LIMITS, qemuImgProcessesStarted, qemuImgSelfCheck, parseFormats, parseVersion, requireDrivers } from ".";

const dir = mkdtempSync(join(tmpdir(), "ferry-qemu-"));
const disk = join(dir, "d.vmdk");
execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", disk, "32M"]);
execFileSync("qemu-io", ["-f", "vmdk", "-c", "write -P 0x61 0 6M", disk], { stdio: "ignore" });

describe("qemu-img layer", () => {
  it("refuses relative, unnormalised and protocol paths without starting a process", async () => {
    const before = qemuImgProcessesStarted();
    for (const p of ["d.vmdk", "nbd:127.0.0.1:1", "json:{}", `${dir}/../x.vmdk`, `${dir}/a\0b`]) {
      await expect(info(p, "vmdk")).rejects.toMatchObject({ code: "qemu.path" });
    }
    expect(qemuImgProcessesStarted()).toBe(before);
  });

  it("takes as a backing only the json: ssh sources the SSH input builds, without starting a process", async () => {
    const file = { driver: "ssh", server: { host: "esxi", port: "22" }, user: "root", path: "/vmfs/volumes/ds/g/g.vmdk", "host-key-check": { mode: "hash", type: "sha256", hash: "a".repeat(64) } };
    const ok = [{ driver: "vmdk", backing: null, file }, { driver: "raw", offset: 0, size: 512, file }];
    for (const j of ok) expect(safeBacking(`json:${JSON.stringify(j)}`)).toBe(`json:${JSON.stringify(j)}`);
    const bad = [
      "json:{",
      `json:${JSON.stringify({ driver: "vmdk", file })}`, // a backing qemu would follow
      `json:${JSON.stringify({ driver: "vmdk", backing: null, file: { ...file, driver: "nbd" } })}`,
      `json:${JSON.stringify({ driver: "vmdk", backing: null, file: { ...file, "host-key-check": { mode: "none" } } })}`,
      `json:${JSON.stringify({ driver: "vmdk", backing: null, file: { ...file, "host-key-check": { mode: "known_hosts" } } })}`,
      `json:${JSON.stringify({ driver: "vmdk", backing: null, file: { ...file, path: "relative.vmdk" } })}`,
      `json:${JSON.stringify({ driver: "vmdk", backing: null, file: { ...file, extra: 1 } })}`,
      `json:${JSON.stringify({ driver: "raw", offset: "0", size: 512, file })}`,
      `json:${JSON.stringify({ driver: "qcow2", backing: null, file })}`,
    ];
    const before = qemuImgProcessesStarted();
    for (const b of bad) await expect(createOverlay(join(dir, "o.qcow2"), b, "vmdk")).rejects.toMatchObject({ code: "qemu.backing" });
    expect(qemuImgProcessesStarted()).toBe(before);
  });

  it("refuses a format outside the allow-list", async () => {
    await expect(info(disk, "vvfat" as never)).rejects.toMatchObject({ code: "qemu.format" });
  });

  it("reads info with an explicit format", async () => {
    const [i] = await info(disk, "vmdk");
    expect(i).toMatchObject({ format: "vmdk", virtualSize: 32 * 1024 ** 2 });
  });

  it("times a FIFO out instead of hanging", async () => {
    const fifo = join(dir, "fifo.vmdk");
    execFileSync("mkfifo", [fifo]);
    const t = Date.now();
    await expect(info(fifo, "vmdk", undefined, { ...QUERY_LIMITS, timeoutMs: 1500 })).rejects.toMatchObject({ code: "qemu.timeout" });
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it("reports qemu-img's own error for a damaged file", async () => {
    const bad = join(dir, "bad.vmdk");
    writeFileSync(bad, "KDMV garbage");
    await expect(info(bad, "vmdk")).rejects.toMatchObject({ code: "qemu.failed" });
  });

  it("measures what a target needs", async () => {
    const m = await measure(disk, "vmdk", "qcow2");
    expect(m.required).toBeGreaterThanOrEqual(6 * 1024 ** 2);
    expect(m.fullyAllocated).toBeGreaterThan(32 * 1024 ** 2);
  });

  it("converts sparsely with progress that never goes back and ends at 100", async () => {
    const seen: number[] = [];
    const out = join(dir, "out.raw");
    await convert({ source: disk, sourceFormat: "vmdk", target: out, targetFormat: "raw", onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(100);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    const [o] = await info(out, "raw");
    expect(o!.actualSize!).toBeLessThan(16 * 1024 ** 2);
  });

  it("cancels a convert through its AbortSignal", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(convert({ source: disk, sourceFormat: "vmdk", target: join(dir, "never.raw"), targetFormat: "raw", signal: ac.signal })).rejects.toMatchObject({ code: "qemu.cancelled" });
  });

  it("checks itself: version and block drivers", async () => {
    const c = await qemuImgSelfCheck();
    expect(c.version).toMatch(/^\d+\.\d+/);
    expect(c.formats).toContain("vmdk");
  });

  it("refuses a qemu-img without the vmdk driver", () => {
    const formats = parseFormats("usage...\nSupported formats: file raw qcow2 nbd\n");
    expect(formats).toEqual(["file", "raw", "qcow2", "nbd"]);
    expect(() => requireDrivers({ version: "8.0.0", formats })).toThrow(expect.objectContaining({ code: "qemu.drivers", message: expect.stringContaining("vmdk") }));
    expect(parseVersion("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7)")).toBe("7.2.22");
  });
});

describe("ProgressParser", () => {
  it("parses split chunks and ignores backward steps", () => {
    const p = new ProgressParser();
    expect(p.push("    (0.00/100%)\r    (12.")).toEqual([0]);
    expect(p.push("50/100%)\r    (10.00/100%)\r")).toEqual([12.5]);
    expect(p.push("    (100.00/100%)\r")).toEqual([100]);
  });
});
