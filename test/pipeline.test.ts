/**
 * The conversion pipeline end to end, with real qemu-img: generated guests
 * in, disks and metadata out; the source byte-identical and its mtimes
 * unchanged after every run, successful, failed or cancelled.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryError } from "../server/errors";
import { inspectGuest } from "../server/input/inspect-guest";
import { runPipeline, type PipelineEvent } from "../server/pipeline";
import { planTarget, type PlanOptions } from "../server/plan";
import { fingerprint } from "./fixtures/fingerprint";
import { makeGuest } from "./fixtures/guest";

const root = mkdtempSync(join(tmpdir(), "ferry-pipeline-"));
const MiB = 1024 ** 2;

async function convert(vmx: string, options: Omit<PlanOptions, "outputDir"> & { outputDir?: string }, run: { signal?: AbortSignal; overlayDir?: string; onEvent?: (e: PipelineEvent) => void } = {}) {
  const outputDir = options.outputDir ?? mkdtempSync(join(root, "out-"));
  const events: PipelineEvent[] = [];
  const plan = planTarget(await inspectGuest(vmx), { ...options, outputDir });
  const before = fingerprint(join(vmx, ".."));
  let error: FerryError | null = null;
  try {
    await runPipeline(plan, { emit: (e) => (events.push(e), run.onEvent?.(e)), signal: run.signal, overlayDir: run.overlayDir });
  } catch (e) {
    error = e as FerryError;
  }
  // Whatever happened, the source is untouched.
  expect(fingerprint(join(vmx, ".."))).toEqual(before);
  return { outputDir, events, error, plan, files: readdirSync(outputDir).sort() };
}

const compare = (a: string, fa: string, b: string, fb: string) => spawnSync("qemu-img", ["compare", "-f", fa, "-F", fb, a, b], { encoding: "utf8" });

let one: string, three: string, chained: string, big: string;
beforeAll(() => {
  one = makeGuest(root, "one", [{ slot: "scsi0:0", sizeMiB: 64, dataMiB: 8 }]);
  three = makeGuest(root, "three", [
    { slot: "scsi0:0", sizeMiB: 64, dataMiB: 4 },
    { slot: "sata0:1", sizeMiB: 32, dataMiB: 2 },
    { slot: "nvme0:0", sizeMiB: 48, dataMiB: 1 },
  ]);
  chained = makeGuest(root, "chained", [{ slot: "scsi0:0", sizeMiB: 64, dataMiB: 8, snapshots: 2 }]);
  big = makeGuest(root, "big", [{ slot: "scsi0:0", sizeMiB: 2048, dataMiB: 768 }]);
}, 180_000);
afterAll(() => {
  execFileSync("rm", ["-rf", root]);
});

describe("runPipeline", () => {
  it("converts a one-disk guest to raw with libvirt XML that virt-xml-validate accepts", async () => {
    const r = await convert(one, { copyOnly: true });
    expect(r.error).toBeNull();
    expect(r.files).toEqual(["one-sda", "one.xml"]);
    expect(compare(join(one, "..", "one.vmdk"), "vmdk", join(r.outputDir, "one-sda"), "raw").status).toBe(0);
    const validate = spawnSync("virt-xml-validate", [join(r.outputDir, "one.xml")], { encoding: "utf8" });
    expect(validate.stdout + validate.stderr).toContain("validates");
    const xml = readFileSync(join(r.outputDir, "one.xml"), "utf8");
    expect(xml).toContain(`<source file='${join(r.outputDir, "one-sda")}'/>`);
    expect(xml).toContain("<driver name='qemu' type='raw'/>");
    expect(xml).toContain("<mac address='00:0c:29:ab:cd:ef'/>");
    // Sparse: the 8 MiB of data, not the 64 MiB disk.
    expect(statSync(join(r.outputDir, "one-sda")).blocks * 512).toBeLessThan(16 * MiB);
  });

  it("names its stages as virt-v2v does, with progress that never goes back", async () => {
    const r = await convert(three, { copyOnly: true, format: "qcow2" });
    const started = r.events.filter((e) => e.type === "stage" && e.state === "started").map((e) => (e as { name: string }).name);
    expect(started).toEqual([
      "Opening the source",
      "Creating an overlay to protect the source from being modified",
      "Inspecting the overlay",
      "Checking for sufficient free disk space in the guest",
      "Converting the guest to run on KVM",
      "Mapping filesystem data to avoid copying unused and blank areas",
      "Closing the overlay",
      "Estimating space required on target for each disk",
      `Setting up the destination: -o local -os ${r.outputDir}`,
      "Copying disk 1/3",
      "Copying disk 2/3",
      "Copying disk 3/3",
      "Creating output metadata",
      "Checking that the guest boots",
      "Finishing off",
    ]);
    for (const disk of [1, 2, 3]) {
      const p = r.events.filter((e): e is Extract<PipelineEvent, { type: "progress" }> => e.type === "progress" && e.disk === disk);
      expect(p.length).toBeGreaterThan(1);
      expect(p.map((e) => e.bytesDone)).toEqual([...p.map((e) => e.bytesDone)].sort((a, b) => a - b));
      expect(p.at(-1)!.bytesDone).toBe(p.at(-1)!.bytesTotal);
    }
    expect(r.events.at(-1)).toMatchObject({ type: "result", files: expect.arrayContaining([expect.objectContaining({ kind: "metadata" })]) });
    expect(r.events.filter((e) => e.type === "warning").map((e) => (e as { code: string }).code)).toEqual(["pipeline.copy-only"]);
  });

  it("copies three disks on SCSI, SATA and NVMe to qcow2, in parallel", async () => {
    const r = await convert(three, { copyOnly: true, format: "qcow2", parallel: 2 });
    expect(r.files).toEqual(["three-sda", "three-sdb", "three-sdc", "three.xml"]);
    // Plan order is the VMX's: SCSI, NVMe, SATA.
    expect(r.plan.disks.map((d) => [d.sourceId, d.dev])).toEqual([["scsi0:0", "sda"], ["nvme0:0", "sdb"], ["sata0:1", "sdc"]]);
    for (const d of r.plan.disks) {
      expect(compare(d.sourcePath, "vmdk", join(r.outputDir, `three-${d.dev}`), "qcow2").status).toBe(0);
    }
    expect(readFileSync(join(r.outputDir, "three.xml"), "utf8")).toContain("<driver name='qemu' type='qcow2'/>");
  });

  it("copies the current state of a snapshot chain", async () => {
    const r = await convert(chained, { copyOnly: true });
    const top = join(chained, "..", "chained-000002.vmdk");
    expect(compare(top, "vmdk", join(r.outputDir, "chained-sda"), "raw").status).toBe(0);
    // ...and not the base alone, which lacks the snapshots' writes.
    expect(compare(join(chained, "..", "chained.vmdk"), "vmdk", join(r.outputDir, "chained-sda"), "raw").status).not.toBe(0);
  });

  it("preallocates when asked, raw and qcow2", async () => {
    const raw = await convert(one, { copyOnly: true, allocation: "preallocated" });
    expect(statSync(join(raw.outputDir, "one-sda")).blocks * 512).toBeGreaterThanOrEqual(64 * MiB);
    const q = await convert(one, { copyOnly: true, allocation: "preallocated", format: "qcow2" });
    expect(statSync(join(q.outputDir, "one-sda")).blocks * 512).toBeGreaterThanOrEqual(64 * MiB);
    expect(compare(join(one, "..", "one.vmdk"), "vmdk", join(q.outputDir, "one-sda"), "qcow2").status).toBe(0);
  });

  it("writes -o qemu a runnable script and -o json a description", async () => {
    const q = await convert(one, { copyOnly: true, output: "qemu" });
    expect(q.files).toEqual(["one-sda", "one.sh"]);
    const sh = join(q.outputDir, "one.sh");
    expect(statSync(sh).mode & 0o111).not.toBe(0);
    expect(spawnSync("sh", ["-n", sh]).status).toBe(0);
    expect(readFileSync(sh, "utf8")).toContain(`file='${join(q.outputDir, "one-sda")}',format=raw`);
    const j = await convert(one, { copyOnly: true, output: "json", name: "one-json" });
    expect(j.files).toEqual(["one-json-sda", "one-json.json"]);
    const doc = JSON.parse(readFileSync(join(j.outputDir, "one-json.json"), "utf8"));
    expect(doc).toMatchObject({ name: "one-json", memory: 1024 * MiB, vcpu: 2, disks: [{ "backing-filename": join(j.outputDir, "one-json-sda"), "backing-format": "raw" }], nics: [{ mac: "00:0c:29:ab:cd:ef", "vnet-type": "network" }] });
  });

  it("limits the read rate when asked", async () => {
    const t = Date.now();
    const r = await convert(one, { copyOnly: true, rateLimit: 4 * MiB });
    expect(r.error).toBeNull();
    // 8 MiB of data at 4 MiB/s cannot take less than about 1.5 s.
    expect(Date.now() - t).toBeGreaterThan(1500);
    expect(compare(join(one, "..", "one.vmdk"), "vmdk", join(r.outputDir, "one-sda"), "raw").status).toBe(0);
  });

  it("refuses to overwrite earlier outputs unless asked", async () => {
    const first = await convert(one, { copyOnly: true });
    const again = await convert(one, { copyOnly: true, outputDir: first.outputDir });
    expect(again.error).toMatchObject({ code: "output.exists" });
    expect(again.files).toEqual(["one-sda", "one.xml"]);
    const forced = await convert(one, { copyOnly: true, outputDir: first.outputDir, overwrite: true });
    expect(forced.error).toBeNull();
    expect(forced.files).toEqual(["one-sda", "one.xml"]);
  });

  it("cancels half-way through a copy: nothing left in the output folder or the overlay folder", async () => {
    const ac = new AbortController();
    const overlayDir = mkdtempSync(join(root, "overlays-"));
    const r = await convert(big, { copyOnly: true }, {
      signal: ac.signal,
      overlayDir,
      onEvent: (e) => {
        if (e.type === "progress" && e.bytesDone > 0 && e.bytesDone < e.bytesTotal) ac.abort();
      },
    });
    expect(r.error).toMatchObject({ code: "pipeline.cancelled" });
    expect(r.files).toEqual([]);
    expect(readdirSync(overlayDir)).toEqual([]);
    expect(r.events.filter((e) => e.type === "stage" && e.state === "failed").map((e) => (e as { name: string }).name)).toEqual(["Copying disk 1/1"]);
    expect(r.events.at(-1)).toMatchObject({ type: "error", code: "pipeline.cancelled" });
  });

  it("refuses a guest with a critical concern before touching anything", async () => {
    const d = join(root, "blocked");
    mkdirSync(d, { recursive: true });
    const vmx = makeGuest(root, "blocked", [{ slot: "scsi0:0", sizeMiB: 8, dataMiB: 1 }], ['pciPassthru0.present = "TRUE"']);
    const r = await convert(vmx, { copyOnly: true });
    expect(r.error).toMatchObject({ code: "pipeline.blocked" });
    expect(r.error!.message).toContain("PCI device");
    expect(r.files).toEqual([]);
  });
});

describe("free space", () => {
  const mounts: string[] = [];
  const tmpfs = (sizeMiB: number): string | null => {
    const m = mkdtempSync(join(root, "tmpfs-"));
    const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}M`, "tmpfs", m]);
    if (r.status !== 0) return null;
    mounts.push(m);
    return m;
  };
  afterAll(() => {
    for (const m of mounts) spawnSync("umount", [m]);
  });

  it("refuses a target without room for qemu-img measure's estimate, naming what is needed", async (ctx) => {
    const small = tmpfs(48);
    if (!small) return ctx.skip();
    const r = await convert(big, { copyOnly: true, outputDir: small });
    expect(r.error).toMatchObject({ code: "output.no-space", file: small });
    expect(r.error!.message).toMatch(/has \d+(\.\d)? MiB free; this guest needs \d+ MiB/);
    expect(readdirSync(small)).toEqual([]);
  });

  it("refuses an overlay folder with less than 1 GiB free", async (ctx) => {
    const small = tmpfs(16);
    if (!small) return ctx.skip();
    const r = await convert(one, { copyOnly: true }, { overlayDir: small });
    expect(r.error).toMatchObject({ code: "pipeline.overlay-space", file: small });
    expect(r.files).toEqual([]);
  });

  it("fails cleanly when the target fills up during the copy", async (ctx) => {
    const small = tmpfs(1024);
    if (!small) return ctx.skip();
    // The estimate fits; then something else takes the space while the copy runs.
    const filler = join(small, "filler");
    let filled = false;
    const r = await convert(big, { copyOnly: true, outputDir: small }, {
      onEvent: (e) => {
        if (!filled && e.type === "progress" && e.bytesDone > 0) {
          filled = true;
          // Take all but 32 MiB; retry if the copy grew in between.
          for (let i = 0; i < 5; i++) {
            const free = statfsSync(small).bavail * statfsSync(small).bsize;
            if (spawnSync("fallocate", ["-l", String(free - 32 * MiB), filler]).status === 0) break;
          }
        }
      },
    });
    expect(filled).toBe(true);
    expect(r.error).toMatchObject({ code: "output.no-space", file: small });
    expect(r.error!.hint).toMatch(/free space/);
    expect(readdirSync(small)).toEqual(["filler"]);
  });
});
