import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { browse, loadConfig, resolveInShare, scanShare, type ScanItem, type Share } from "../../server/shares";
import { makeTree } from "../fixtures/tree";

const root = mkdtempSync(join(tmpdir(), "ferry-shares-"));
const sharePath = join(root, "share");
mkdirSync(join(sharePath, "guests", "web01"), { recursive: true });
writeFileSync(join(sharePath, "guests", "web01", "web01.vmx"), 'displayName = "web01"\nguestOS = "debian12-64"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "web01.vmdk"\n');
writeFileSync(join(sharePath, "guests", "web01", "web01.vmdk"), "# Disk DescriptorFile\n");
mkdirSync(join(root, "outside"));
writeFileSync(join(root, "outside", "secret.vmx"), 'displayName = "secret"\n');
symlinkSync("/etc", join(sharePath, "etc-link"));
symlinkSync(join(root, "outside"), join(sharePath, "guests", "linked-folder"));
symlinkSync(join(sharePath, "guests", "web01"), join(sharePath, "inside-link"));
mkdirSync(join(sharePath, ".snapshot", "hourly"), { recursive: true });
writeFileSync(join(sharePath, ".snapshot", "hourly", "old.vmx"), 'displayName = "old"\n');
const share: Share = { name: "nas", path: sharePath, readOnly: true, datastores: [] };

async function collect(gen: AsyncGenerator<ScanItem>): Promise<ScanItem[]> {
  const out: ScanItem[] = [];
  for await (const i of gen) out.push(i);
  return out;
}

describe("share paths", () => {
  it.each([
    ["etc-link", "share.path.outside"],
    ["etc-link/passwd", "share.path.outside"],
    ["guests/linked-folder", "share.path.outside"],
    ["guests/linked-folder/secret.vmx", "share.path.outside"],
    ["../outside", "share.path.parent"],
    ["guests/../../outside", "share.path.parent"],
    ["/etc", "share.path.absolute"],
    [sharePath, "share.path.absolute"],
    ["guests\0/x", "share.path.nul"],
    ["nothing/here", "share.path.missing"],
  ])("refuses %j", async (rel, code) => {
    await expect(resolveInShare(share, rel)).rejects.toThrow(expect.objectContaining({ code }));
  });

  it("allows a symlink that stays inside the share", async () => {
    expect((await resolveInShare(share, "inside-link/web01.vmx")).rel).toBe("guests/web01/web01.vmx");
    expect((await resolveInShare(share, "./guests//web01/")).rel).toBe("guests/web01");
  });

  it("says so when the share itself is not mounted", async () => {
    await expect(resolveInShare({ ...share, path: join(root, "unmounted") }, "")).rejects.toThrow(expect.objectContaining({ code: "share.unavailable" }));
  });
});

describe("browse", () => {
  it("lists folders first, hides links leading out", async () => {
    const l = await browse(share, "");
    expect(l.entries.map((e) => [e.name, e.kind])).toEqual([
      [".snapshot", "folder"],
      ["guests", "folder"],
      ["inside-link", "folder"],
    ]);
    expect(l.hidden).toBe(1);
    const g = await browse(share, "guests/web01");
    expect(g.entries.map((e) => [e.name, e.kind])).toEqual([["web01.vmdk", "vmdk"], ["web01.vmx", "vmx"]]);
    expect((await browse(share, "guests")).hidden).toBe(1);
  });

  it("refuses a file as a folder", async () => {
    await expect(browse(share, "guests/web01/web01.vmx")).rejects.toThrow(expect.objectContaining({ code: "share.path.not-folder" }));
  });
});

describe("scan", () => {
  it("finds guests, never through links or snapshot folders", async () => {
    const items = await collect(scanShare(share, ""));
    const vms = items.filter((i) => i.type === "vm").map((i) => (i as Extract<ScanItem, { type: "vm" }>).vm);
    expect(vms.map((v) => [v.relPath, v.name, v.guestOS, v.family, v.diskCount, v.inUse])).toEqual([["guests/web01/web01.vmx", "web01", "debian12-64", "linux", 1, false]]);
    expect(items.at(-1)).toMatchObject({ type: "done", vms: 1 });
  });

  it("marks a guest in use and reports an unreadable VMX instead of failing", async () => {
    const d = join(sharePath, "more", "busy");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "busy.vmx"), 'displayName = "busy"\n');
    mkdirSync(join(d, "busy.vmx.lck"));
    writeFileSync(join(sharePath, "more", "bad.vmx"), Buffer.from([0, 1, 2, 3]));
    const vms = (await collect(scanShare(share, "more"))).filter((i) => i.type === "vm").map((i) => (i as Extract<ScanItem, { type: "vm" }>).vm);
    expect(vms.find((v) => v.name === "busy")).toMatchObject({ inUse: true, error: null });
    expect(vms.find((v) => v.relPath === "more/bad.vmx")!.error).toMatch(/binary content/);
  });

  it("stops at its bounds, saying so", async () => {
    const items = await collect(scanShare(share, "", { maxFolders: 2 }));
    expect(items.some((i) => i.type === "note" && /stopped after 2 folders/.test(i.message))).toBe(true);
    expect(items.at(-1)).toMatchObject({ type: "done", truncated: true });
  });

  it("scans a tree of 20,000 folders with 200 guests, streaming", async () => {
    const big = join(root, "big");
    const { vmx } = makeTree(big, 20_000, 200);
    const items: ScanItem[] = [];
    let firstVmAt = -1;
    for await (const i of scanShare({ ...share, path: big }, "")) {
      if (i.type === "vm" && firstVmAt < 0) firstVmAt = items.length;
      items.push(i);
    }
    const found = items.filter((i) => i.type === "vm");
    expect(found).toHaveLength(200);
    expect(vmx).toHaveLength(200);
    expect(firstVmAt).toBeLessThan(50);
    expect(items.at(-1)).toMatchObject({ type: "done", vms: 200, truncated: false });
    expect((items.at(-1) as { folders: number }).folders).toBeGreaterThanOrEqual(20_000);
  });
});

describe("config", () => {
  it("defaults to the demo share and an output folder under the data folder", () => {
    const c = loadConfig({ FERRY_DATA_DIR: join(root, "data") }, root);
    expect(c.shares).toEqual([{ name: "demo", path: join(root, "data", "demo-share"), readOnly: true, datastores: [] }]);
    expect(c.outputs).toEqual([{ name: "output", path: join(root, "data", "output") }]);
    expect(c.concurrency).toBeGreaterThanOrEqual(1);
  });

  it("virtio-win: none by default, the file's (relative to it) or FERRY_VIRTIO_WIN; a wrong type names the field", () => {
    expect(loadConfig({ FERRY_DATA_DIR: join(root, "data") }, root).virtioWin).toBeNull();
    const file = join(root, "vw.json");
    writeFileSync(file, JSON.stringify({ virtioWin: "virtio-win" }));
    expect(loadConfig({ FERRY_CONFIG: file }, root).virtioWin).toBe(join(root, "virtio-win"));
    expect(loadConfig({ FERRY_CONFIG: file, FERRY_VIRTIO_WIN: "/usr/share/virtio-win" }, root).virtioWin).toBe("/usr/share/virtio-win");
    writeFileSync(file, JSON.stringify({ virtioWin: 7 }));
    expect(() => loadConfig({ FERRY_CONFIG: file }, root)).toThrow(expect.objectContaining({ code: "config.invalid", message: expect.stringContaining("virtioWin") }));
  });

  it("reads a file and the environment, and names a bad field", () => {
    const file = join(root, "ferry.json");
    writeFileSync(file, JSON.stringify({ shares: [{ name: "nas1", path: "/mnt/nas1", datastores: [{ prefix: "/vmfs/volumes/ds1", path: "/mnt/nas1/ds1" }] }], outputs: [{ name: "kvm", path: "/var/lib/libvirt/images" }], perShareLimit: 3 }));
    const c = loadConfig({ FERRY_CONFIG: file, FERRY_CONCURRENCY: "4" }, root);
    expect(c).toMatchObject({ concurrency: 4, perShareLimit: 3, shares: [{ name: "nas1", readOnly: true }] });
    writeFileSync(file, JSON.stringify({ shares: [{ name: "nas1", path: "relative/path" }] }));
    expect(() => loadConfig({ FERRY_CONFIG: file }, root)).toThrow(expect.objectContaining({ code: "config.invalid", file, message: expect.stringContaining("shares.0.path") }));
    writeFileSync(file, "{ not json");
    expect(() => loadConfig({ FERRY_CONFIG: file }, root)).toThrow(expect.objectContaining({ code: "config.invalid" }));
    expect(() => loadConfig({ FERRY_CONFIG: join(root, "none.json") }, root)).toThrow(expect.objectContaining({ code: "config.missing" }));
    expect(() => loadConfig({ FERRY_DATA_DIR: root, FERRY_CONCURRENCY: "many" }, root)).toThrow(expect.objectContaining({ code: "config.invalid" }));
  });

  it("several hosts: the database URL, global limit, lease and overlay folder, from the file or the environment", () => {
    const file = join(root, "hosts.json");
    writeFileSync(file, JSON.stringify({ databaseUrl: "postgresql://ferry@db.lan/ferry", globalLimit: 12, leaseSeconds: 20, overlayDir: "scratch" }));
    expect(loadConfig({ FERRY_CONFIG: file }, root)).toMatchObject({ databaseUrl: "postgresql://ferry@db.lan/ferry", globalLimit: 12, leaseSeconds: 20, overlayDir: join(root, "scratch") });
    expect(loadConfig({ FERRY_CONFIG: file, FERRY_DATABASE_URL: "postgresql://other/db", FERRY_GLOBAL_LIMIT: "3", FERRY_LEASE_SECONDS: "9", FERRY_OVERLAY_DIR: "/srv/ov" }, root)).toMatchObject({ databaseUrl: "postgresql://other/db", globalLimit: 3, leaseSeconds: 9, overlayDir: "/srv/ov" });
    expect(loadConfig({ FERRY_DATA_DIR: join(root, "d") }, root)).toMatchObject({ databaseUrl: null, globalLimit: null, leaseSeconds: 30, overlayDir: join(root, "d", "overlays") });
    writeFileSync(file, JSON.stringify({ leaseSeconds: 0 }));
    expect(() => loadConfig({ FERRY_CONFIG: file }, root)).toThrow(expect.objectContaining({ code: "config.invalid", message: expect.stringContaining("leaseSeconds") }));
    expect(() => loadConfig({ FERRY_DATA_DIR: join(root, "d2"), FERRY_LEASE_SECONDS: "soon" }, root)).toThrow(expect.objectContaining({ code: "config.invalid", message: expect.stringContaining("FERRY_LEASE_SECONDS") }));
  });
});
