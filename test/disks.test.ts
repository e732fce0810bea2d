/**
 * Disks against real qemu-img: every fixture shape is read the way qemu-img
 * reads it, and every hostile one is refused before any qemu-img process
 * starts and without opening a file outside its guest's folder.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { FerryError } from "../server/errors";
import { dataBytes, info, map, qemuImgProcessesStarted } from "../server/qemu";
import { confinement, DiskFacts, inspectDisk } from "../server/vmdk";
import { makeVmdkFixtures, type VmdkFixtures } from "./fixtures/vmdk";

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

const inspect = (p: string) => DiskFacts.parse(inspectDisk(p, dirname(p), { confinement: confinement(dirname(p)) }));

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
    const facts = inspect(p);
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

  it("lists a two-level snapshot chain, the given file first and the base last", () => {
    const facts = inspect(fx.good["chain"]!);
    expect(facts.chain.map((l) => l.file.split("/").pop())).toEqual(["chain-000002.vmdk", "chain-000001.vmdk", "chain.vmdk"]);
    expect(facts.chain[0]!.parentCid).toBe(facts.chain[1]!.cid);
    expect(facts.chain[1]!.parentCid).toBe(facts.chain[2]!.cid);
    expect(facts.chain[2]!.parentCid).toBe("ffffffff");
    const MiB = 1024 ** 2;
    expect(facts.chain.map((l) => l.allocatedBytes)).toEqual([2 * MiB, 1 * MiB, 4 * MiB]);
    expect(facts.allocatedBytes).toBe(7 * MiB);
  });

  it("reads an ESXi vmfsSparse snapshot over a vmfs flat base", () => {
    const facts = inspect(fx.good["vmfsSparse-chain"]!);
    expect(facts.chain.map((l) => l.createType)).toEqual(["vmfsSparse", "vmfs"]);
    expect(facts.adapterType).toBe("pvscsi");
    expect(facts.files.map((f) => [f.path.split("/").pop(), f.role])).toEqual([
      ["esx-000001.vmdk", "descriptor"],
      ["esx-000001-delta.vmdk", "extent"],
      ["esx.vmdk", "descriptor"],
      ["esx-flat.vmdk", "extent"],
    ]);
  });

  it("reports each extent of a split disk", () => {
    const facts = inspect(fx.good["twoGbMaxExtentSparse"]!);
    expect(facts.extents.map((e) => [e.type, e.sectors, e.file])).toEqual([
      ["SPARSE", 4194304, "twoGbMaxExtentSparse-s001.vmdk"],
      ["SPARSE", 2097152, "twoGbMaxExtentSparse-s002.vmdk"],
    ]);
  });

  it("raises a critical concern for a wrong parentCID, naming the link (qemu-img would read it silently)", async () => {
    const facts = inspect(fx.good["wrong-parentCID"]!);
    expect(facts.concerns).toEqual([expect.objectContaining({ id: "vmdk.chain.cid-mismatch", severity: "critical" })]);
    expect(facts.concerns[0]!.message).toMatch(/broken-000001\.vmdk expects its parent broken\.vmdk/);
    expect((await info(fx.good["wrong-parentCID"]!, "vmdk")).length).toBe(2);
  });

  it("raises a critical concern for a disk of size zero, which qemu-img cannot even open", async () => {
    expect(inspect(fx.good["empty"]!).concerns.map((c) => [c.id, c.severity])).toEqual([["vmdk.empty", "critical"]]);
    await expect(info(fx.good["empty"]!, "vmdk")).rejects.toMatchObject({ code: "qemu.failed" });
  });
});

describe("hostile disks", () => {
  const names = ["absolute-extent", "dotdot-extent", "symlink-extent", "nbd-extent", "json-extent", "fifo-extent", "device-extent", "rdonly-extent", "noaccess-extent", "short-flat", "parent-out", "descriptor-2MiB", "2049-extents", "raw-device-map", "chain-loop"];

  it("covers the whole hostile set", () => {
    expect(Object.keys(fx.hostile).sort()).toEqual([...names].sort());
  });

  it.each(names)("%s is refused before qemu-img runs, reading nothing outside its folder", (name) => {
    const [p, code] = fx.hostile[name]!;
    const before = qemuImgProcessesStarted();
    opened.length = 0;
    let error: unknown;
    try {
      inspect(p);
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

  it("leaves the secret file untouched", () => {
    expect(readFileSync(fx.secret).every((b) => b === 0x53)).toBe(true);
  });
});
