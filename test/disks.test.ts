/**
 * Disks against real qemu-img: every fixture shape is read the way qemu-img
 * reads it, and every hostile one is refused before any qemu-img process
 * starts and without opening a file outside its guest's folder.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { FerryError } from "../server/errors";
import { inspectGuest } from "../server/input/inspect-guest";
import { runPipeline, type PipelineEvent } from "../server/pipeline";
import { planTarget } from "../server/plan";
import { dataBytes, info, map, qemuImgProcessesStarted } from "../server/qemu";
import { confinement, DiskFacts, inspectDisk } from "../server/vmdk";
import { fingerprint } from "./fixtures/fingerprint";
import { cowdDelta, descriptor, makeVmdkFixtures, type VmdkFixtures } from "./fixtures/vmdk";

// Every file Ferry opens, to prove no hostile reference makes it read outside the guest's folder.
const opened = vi.hoisted(() => [] as string[]);
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const openSync = ((path: import("node:fs").PathLike, ...rest: unknown[]) => {
    opened.push(String(path));
    return (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof fs.openSync;
  return { ...fs, default: { ...fs, openSync }, openSync };
});

let fx: VmdkFixtures;
beforeAll(() => {
  fx = makeVmdkFixtures(mkdtempSync(join(tmpdir(), "ferry-disks-")));
});

const inspect = async (p: string) => DiskFacts.parse(await inspectDisk(p, dirname(p), { confinement: await confinement(dirname(p)) }));

describe("good disks, checked against qemu-img", () => {
  const createTypes: Record<string, string> = {
    monolithicSparse: "monolithicSparse",
    monolithicFlat: "monolithicFlat",
    twoGbMaxExtentSparse: "twoGbMaxExtentSparse",
    twoGbMaxExtentFlat: "twoGbMaxExtentFlat",
    streamOptimized: "streamOptimized",
    vmfs: "vmfs",
    "vmfsSparse-chain": "vmfsSparse",
    chain: "monolithicSparse",
    "2TiB": "monolithicSparse",
  };
  it.each(Object.keys(createTypes))("%s: capacity and allocation agree with qemu-img", async (name) => {
    const p = fx.good[name]!;
    const facts = await inspect(p);
    expect(facts.createType).toBe(createTypes[name]);
    const chain = await info(p, "vmdk");
    expect(facts.capacityBytes).toBe(chain[0]!.virtualSize);
    expect(facts.chain.length).toBe(chain.length);
    expect(facts.allocatedBytes).not.toBeNull();
    expect(facts.allocatedBytes!).toBeLessThanOrEqual(facts.capacityBytes);
    if (name === "2TiB") {
      // qemu-img map walks all 2 TiB for tens of seconds; its info says no data, and so does Ferry, at once.
      expect(facts.allocatedBytes).toBe(0);
    } else {
      const data = dataBytes(await map(p, "vmdk"));
      // Grain tables count what each link of a chain holds; qemu-img map counts each block once.
      if (facts.allocationSource === "grain-tables") {
        if (facts.chain.length === 1) expect(facts.allocatedBytes).toBe(data);
        else expect(facts.allocatedBytes!).toBeGreaterThanOrEqual(data);
      }
    }
    for (const f of facts.files) expect(f.bytes).toBe(statSync(f.path).size);
    expect(facts.concerns).toEqual([]);
  });

  it("lists a two-level snapshot chain, the given file first and the base last", async () => {
    const facts = await inspect(fx.good["chain"]!);
    expect(facts.chain.map((l) => l.file.split("/").pop())).toEqual(["chain-000002.vmdk", "chain-000001.vmdk", "chain.vmdk"]);
    expect(facts.chain[0]!.parentCid).toBe(facts.chain[1]!.cid);
    expect(facts.chain[1]!.parentCid).toBe(facts.chain[2]!.cid);
    expect(facts.chain[2]!.parentCid).toBe("ffffffff");
    const MiB = 1024 ** 2;
    expect(facts.chain.map((l) => l.allocatedBytes)).toEqual([2 * MiB, 1 * MiB, 4 * MiB]);
    expect(facts.allocatedBytes).toBe(7 * MiB);
  });

  it("reads an ESXi vmfsSparse snapshot over a vmfs flat base", async () => {
    const facts = await inspect(fx.good["vmfsSparse-chain"]!);
    expect(facts.chain.map((l) => l.createType)).toEqual(["vmfsSparse", "vmfs"]);
    expect(facts.adapterType).toBe("pvscsi");
    expect(facts.files.map((f) => [f.path.split("/").pop(), f.role])).toEqual([
      ["esx-000001.vmdk", "descriptor"],
      ["esx-000001-delta.vmdk", "extent"],
      ["esx.vmdk", "descriptor"],
      ["esx-flat.vmdk", "extent"],
    ]);
  });

  it("reports each extent of a split disk", async () => {
    const facts = await inspect(fx.good["twoGbMaxExtentSparse"]!);
    expect(facts.extents.map((e) => [e.type, e.sectors, e.file])).toEqual([
      ["SPARSE", 4194304, "twoGbMaxExtentSparse-s001.vmdk"],
      ["SPARSE", 2097152, "twoGbMaxExtentSparse-s002.vmdk"],
    ]);
  });

  it("raises a critical concern for a wrong parentCID, naming the link (qemu-img would read it silently)", async () => {
    const facts = await inspect(fx.good["wrong-parentCID"]!);
    expect(facts.concerns).toEqual([expect.objectContaining({ id: "vmdk.chain.cid-mismatch", severity: "critical" })]);
    expect(facts.concerns[0]!.message).toMatch(/broken-000001\.vmdk expects its parent broken\.vmdk/);
    expect((await info(fx.good["wrong-parentCID"]!, "vmdk")).length).toBe(2);
  });

  it("raises a critical concern for a disk of size zero, which qemu-img cannot even open", async () => {
    expect((await inspect(fx.good["empty"]!)).concerns.map((c) => [c.id, c.severity])).toEqual([["vmdk.empty", "critical"]]);
    await expect(info(fx.good["empty"]!, "vmdk")).rejects.toMatchObject({ code: "qemu.failed" });
  });
});

describe("renamed disks", () => {
  const renamed: [string, string, string, string][] = [
    ["renamed-monolithicSparse", "monolithicSparse", "web01.vmdk", "old-name.vmdk"],
    ["renamed-streamOptimized", "streamOptimized", "stream01.vmdk", "old-stream.vmdk"],
    ["renamed-over-another", "monolithicSparse", "copy.vmdk", "orig.vmdk"],
  ];

  it.each(renamed)("%s is read as itself, as qemu-img reads it, with an info note naming both names", async (name, createType, file, old) => {
    const p = fx.good[name]!;
    const facts = await inspect(p);
    expect(facts.createType).toBe(createType);
    expect(facts.extents.map((e) => [e.type, e.file])).toEqual([["SPARSE", old]]);
    expect(facts.files).toEqual([{ path: p, bytes: statSync(p).size, role: "descriptor+extent" }]);
    const chain = await info(p, "vmdk");
    expect(facts.capacityBytes).toBe(chain[0]!.virtualSize);
    expect(facts.allocationSource).toBe("grain-tables");
    expect(facts.allocatedBytes).toBe(dataBytes(await map(p, "vmdk")));
    expect(facts.concerns).toHaveLength(1);
    expect(facts.concerns[0]).toMatchObject({ id: "vmdk.extent.renamed", severity: "info" });
    expect(facts.concerns[0]!.message).toContain(`${file} names its data "${old}" (line `);
    expect(facts.concerns[0]!.message).toContain(name === "renamed-over-another" ? "another file" : "which does not exist");
  });

  it("reads a renamed copy's own data, not the file its descriptor names", async () => {
    const MiB = 1024 ** 2;
    expect((await inspect(fx.good["renamed-over-another"]!)).allocatedBytes).toBe(1 * MiB);
    expect((await inspect(join(dirname(fx.good["renamed-over-another"]!), "orig.vmdk"))).allocatedBytes).toBe(5 * MiB);
  });

  it("still refuses a split disk with one extent renamed away, as a critical concern of the guest", async () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-disk-split-"));
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", join(d, "split.vmdk"), "3G"]);
    renameSync(join(d, "split-s002.vmdk"), join(d, "split-s002.vmdk.bak"));
    await expect(inspect(join(d, "split.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.missing", file: join(d, "split.vmdk"), line: expect.any(Number), message: 'extent "split-s002.vmdk" does not exist' }));
    writeFileSync(join(d, "split.vmx"), 'displayName = "split"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "split.vmdk"\n');
    const vm = await inspectGuest(join(d, "split.vmx"));
    expect(vm.concerns.map((c) => [c.id, c.severity, c.device])).toEqual([["vmdk.missing", "critical", "scsi0:0"]]);
  });

  it("still refuses a descriptor-only disk whose extent is missing, even a sparse one", async () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-disk-gone-"));
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", join(d, "flat.vmdk"), "8M"]);
    renameSync(join(d, "flat-flat.vmdk"), join(d, "renamed-flat.vmdk"));
    await expect(inspect(join(d, "flat.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.missing", message: 'extent "flat-flat.vmdk" does not exist' }));
    // A text descriptor is not the data it describes, whatever its createType says.
    writeFileSync(join(d, "text.vmdk"), descriptor({ createType: "monolithicSparse", extents: ['RW 16384 SPARSE "gone.vmdk"'] }));
    await expect(inspect(join(d, "text.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.missing", line: 9 }));
  });

  it("copies a renamed disk through the pipeline, equal to its source, the source untouched", async () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-renamed-guest-"));
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(d, "old-name.vmdk"), "64M"]);
    execFileSync("qemu-io", ["-f", "vmdk", "-c", "write -P 0x5a 0 3M", "-c", "write -P 0xa5 40M 1M", join(d, "old-name.vmdk")], { stdio: "ignore" });
    renameSync(join(d, "old-name.vmdk"), join(d, "web01.vmdk"));
    writeFileSync(join(d, "web01.vmx"), 'displayName = "web01"\nguestOS = "debian12-64"\nmemsize = "512"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "web01.vmdk"\n');
    const vm = await inspectGuest(join(d, "web01.vmx"));
    expect(vm.concerns.filter((c) => c.severity !== "info")).toEqual([]);
    expect(vm.concerns).toContainEqual(expect.objectContaining({ id: "vmdk.extent.renamed", severity: "info", device: "scsi0:0" }));
    const outputDir = mkdtempSync(join(tmpdir(), "ferry-renamed-out-"));
    const before = fingerprint(d);
    const events: PipelineEvent[] = [];
    await runPipeline(planTarget(vm, { outputDir, copyOnly: true }), { emit: (e) => events.push(e) });
    expect(fingerprint(d)).toEqual(before);
    expect(events.at(-1)).toMatchObject({ type: "result" });
    expect(readdirSync(outputDir).sort()).toEqual(["web01-sda", "web01.xml"]);
    const same = spawnSync("qemu-img", ["compare", "-f", "vmdk", "-F", "raw", join(d, "web01.vmdk"), join(outputDir, "web01-sda")], { encoding: "utf8" });
    expect(same.stdout + same.stderr).toContain("Images are identical");
    expect(same.status).toBe(0);
  }, 60_000);
});

describe("hostile disks", () => {
  const names = ["absolute-extent", "dotdot-extent", "symlink-extent", "nbd-extent", "json-extent", "fifo-extent", "device-extent", "rdonly-extent", "noaccess-extent", "short-flat", "parent-out", "descriptor-2MiB", "2049-extents", "raw-device-map", "chain-loop", "renamed-symlink", "renamed-dotdot", "renamed-nbd", "renamed-fifo"];

  it("covers the whole hostile set", async () => {
    expect(Object.keys(fx.hostile).sort()).toEqual([...names].sort());
  });

  it.each(names)("%s is refused before qemu-img runs, reading nothing outside its folder", async (name) => {
    const [p, code] = fx.hostile[name]!;
    const before = qemuImgProcessesStarted();
    opened.length = 0;
    let error: unknown;
    try {
      await inspect(p);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FerryError);
    const e = error as FerryError;
    expect(e.code).toBe(code);
    expect(e.file).toBeTruthy();
    expect(e.hint).toBeTruthy();
    if (!["descriptor-2MiB", "raw-device-map", "chain-loop", "2049-extents"].includes(name)) expect(e.line).toBeGreaterThan(0);
    expect(qemuImgProcessesStarted()).toBe(before);
    expect(opened.length).toBeGreaterThan(0);
    for (const f of opened) expect(f.startsWith(dirname(p) + "/"), `opened ${f}`).toBe(true);
    expect(opened).not.toContain(fx.secret);
  });

  it("leaves the secret file untouched", async () => {
    expect(readFileSync(fx.secret).every((b) => b === 0x53)).toBe(true);
  });
});

describe("disk edge cases", () => {
  const scratch = () => mkdtempSync(join(tmpdir(), "ferry-disk-edge-"));

  it("says to give the descriptor when handed an extent", async () => {
    const d = dirname(fx.good["twoGbMaxExtentSparse"]!);
    await expect(inspect(join(d, "twoGbMaxExtentSparse-s001.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.extent-not-disk" }));
    const flat = dirname(fx.good["monolithicFlat"]!);
    await expect(inspect(join(flat, "monolithicFlat-flat.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.not-a-descriptor" }));
    await expect(inspect(join(dirname(fx.good["vmfs"]!), "esx-000001-delta.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.extent-not-disk" }));
  });

  it("warns about VMware lock files beside the disk", async () => {
    const d = scratch();
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(d, "web.vmdk"), "8M"]);
    mkdirSync(join(d, "web.vmdk.lck"));
    const facts = await inspect(join(d, "web.vmdk"));
    expect(facts.locks).toEqual([join(d, "web.vmdk.lck")]);
    expect(facts.concerns).toEqual([expect.objectContaining({ id: "vmdk.locked", severity: "warning" })]);
  });

  it("raises a critical concern for a missing parent, and for a snapshot without a parent hint", async () => {
    const d = scratch();
    writeFileSync(join(d, "a-000001.vmdk"), descriptor({ cid: "1", parentCid: "2", createType: "monolithicFlat", parent: "a.vmdk", extents: ['RW 8 FLAT "a-flat.vmdk" 0'] }));
    writeFileSync(join(d, "b-000001.vmdk"), descriptor({ cid: "1", parentCid: "2", createType: "monolithicFlat", extents: ['RW 8 FLAT "a-flat.vmdk" 0'] }));
    writeFileSync(join(d, "a-flat.vmdk"), Buffer.alloc(8 * 512));
    expect((await inspect(join(d, "a-000001.vmdk"))).concerns.map((c) => [c.id, c.severity])).toEqual([["vmdk.chain.missing-parent", "critical"]]);
    expect((await inspect(join(d, "b-000001.vmdk"))).concerns.map((c) => [c.id, c.severity])).toEqual([["vmdk.chain.no-parent", "critical"]]);
  });

  it("refuses an unknown createType and a chain deeper than 32, naming the file", async () => {
    const d = scratch();
    writeFileSync(join(d, "odd.vmdk"), descriptor({ createType: "custom", extents: ['RW 8 FLAT "x-flat.vmdk" 0'] }));
    await expect(inspect(join(d, "odd.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.create-type", line: 6 }));
    writeFileSync(join(d, "x-flat.vmdk"), Buffer.alloc(8 * 512));
    for (let i = 0; i <= 33; i++) {
      writeFileSync(join(d, `deep-${i}.vmdk`), descriptor({ cid: `${i}`, parentCid: i === 33 ? "ffffffff" : `${i + 1}`, createType: "monolithicFlat", parent: i === 33 ? undefined : `deep-${i + 1}.vmdk`, extents: ['RW 8 FLAT "x-flat.vmdk" 0'] }));
    }
    await expect(inspect(join(d, "deep-0.vmdk"))).rejects.toThrow(expect.objectContaining({ code: "vmdk.chain.too-deep" }));
    expect((await inspect(join(d, "deep-2.vmdk"))).chain).toHaveLength(32);
  });

  it("maps an ESXi datastore path in a parent hint", async () => {
    const d = scratch();
    mkdirSync(join(d, "guest"));
    mkdirSync(join(d, "ds1", "base"), { recursive: true });
    writeFileSync(join(d, "ds1", "base", "base.vmdk"), descriptor({ cid: "abc", createType: "vmfs", extents: ['RW 8 VMFS "base-flat.vmdk"'] }));
    writeFileSync(join(d, "ds1", "base", "base-flat.vmdk"), Buffer.alloc(8 * 512));
    writeFileSync(join(d, "guest", "g-000001.vmdk"), descriptor({ cid: "def", parentCid: "abc", createType: "vmfsSparse", parent: "/vmfs/volumes/ds1/base/base.vmdk", extents: ['RW 8 VMFSSPARSE "g-000001-delta.vmdk"'] }));
    writeFileSync(join(d, "guest", "g-000001-delta.vmdk"), cowdDelta(8));
    const g = join(d, "guest");
    expect((await inspectDisk("g-000001.vmdk", g, { confinement: await confinement(g) })).concerns.map((c) => c.id)).toEqual(["vmdk.chain.missing-parent"]);
    const facts = await inspectDisk("g-000001.vmdk", g, { confinement: await confinement(g, [{ prefix: "/vmfs/volumes/ds1", path: join(d, "ds1") }]) });
    expect(facts.chain.map((l) => l.file)).toEqual([join(g, "g-000001.vmdk"), join(d, "ds1", "base", "base.vmdk")]);
  });
});
