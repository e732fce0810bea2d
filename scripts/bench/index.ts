/**
 * `npm run bench`: each benchmark measures Ferry and a baseline in the same
 * run, on this machine, and prints one row: what it measures, Ferry's
 * figure, the baseline's, and the ratio (below 1 means Ferry is faster).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspectGuest } from "../../server/input/inspect-guest";
import { confinement, inspectDisk } from "../../server/vmdk";
import { readVmx } from "../../server/vmx";
import { makeFourDiskGuest, makeGuest } from "../../test/fixtures/guest";
import { runPipeline, type PipelineEvent } from "../../server/pipeline";
import { planTarget } from "../../server/plan";

interface Row {
  name: string;
  unit: string;
  ferry: number;
  baseline: number;
  baselineName: string;
  /** An absolute bound the issue sets, in `unit`. */
  target?: number;
  /** A bound on ferry / baseline. */
  targetRatio?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(runs: number, fn: () => void): number {
  fn(); // warm up
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return median(t);
}

const work = mkdtempSync(join(tmpdir(), "ferry-bench-"));
const rows: Row[] = [];

async function seconds(fn: () => Promise<void> | void): Promise<number> {
  const s = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - s) / 1e9;
}

try {
  // 0. The copy stage of a 4 GiB disk holding 1 GiB, against a bare qemu-img convert of the same file.
  {
    const vmx = makeGuest(work, "copy4g", [{ slot: "scsi0:0", sizeMiB: 4096, dataMiB: 1024 }]);
    const src = join(dirname(vmx), "copy4g.vmdk");
    const plan = (dir: string) => planTarget(inspectGuest(vmx), { outputDir: dir, copyOnly: true, overwrite: true });
    const ferryCopy: number[] = [];
    const ferryOverhead: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = mkdtempSync(join(work, "bare-"));
      bare.push(await seconds(() => void execFileSync("qemu-img", ["convert", "-f", "vmdk", "-O", "raw", "-S", "4k", src, join(out, "d.raw")])));
      rmSync(out, { recursive: true, force: true });
      const dir = mkdtempSync(join(work, "ferry-"));
      let copy = 0;
      const total = await seconds(async () => {
        await runPipeline(plan(dir), {
          emit: (e: PipelineEvent) => {
            if (e.type === "stage" && e.state === "finished" && e.name.startsWith("Copying disk")) copy += e.seconds ?? 0;
          },
        });
      });
      ferryCopy.push(copy);
      ferryOverhead.push(total - copy);
      rmSync(dir, { recursive: true, force: true });
    }
    rows.push({ name: "copy stage: 4 GiB disk, 1 GiB data", unit: "s", ferry: median(ferryCopy), baseline: median(bare), baselineName: "bare qemu-img convert -S 4k", targetRatio: 1.05 });
    rows.push({ name: "whole run beyond the copy", unit: "s", ferry: median(ferryOverhead), baseline: median(bare), baselineName: "(same convert, for scale)", target: 2 });
    rmSync(dirname(vmx), { recursive: true, force: true });
  }

  // 1. Inspecting a 4-disk guest with a snapshot chain, against asking qemu-img about each disk.
  const vmx = makeFourDiskGuest(work);
  const guest = inspectGuest(vmx);
  const disks = guest.disks.map((d) => d.path!);
  rows.push({
    name: "inspect 4-disk guest with snapshot chain",
    unit: "ms",
    ferry: time(20, () => inspectGuest(vmx)),
    baseline: time(5, () => {
      for (const d of disks) execFileSync("qemu-img", ["info", "-f", "vmdk", "--backing-chain", "--output=json", d]);
    }),
    baselineName: "qemu-img info --backing-chain, per disk",
    target: 200,
  });

  // 2. Allocated bytes of a large sparse disk: grain tables against qemu-img map.
  const big = join(work, "big", "big.vmdk");
  execFileSync("mkdir", ["-p", dirname(big)]);
  execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", big, "256G"]);
  execFileSync("qemu-io", ["-f", "vmdk", "-c", "write -P 0x5a 100G 64M", big], { stdio: "ignore" });
  const c = confinement(dirname(big));
  rows.push({
    name: "allocated bytes of a 256 GiB sparse disk",
    unit: "ms",
    ferry: time(10, () => inspectDisk(big, dirname(big), { confinement: c })),
    baseline: time(3, () => execFileSync("qemu-img", ["map", "-f", "vmdk", "--output=json", big])),
    baselineName: "qemu-img map",
  });

  // 3. Reading every VMX of the corpus: the tolerant reader against a bare line split.
  const corpus = fileURLToPath(new URL("../../../shared/corpus/libvirt", import.meta.url));
  let files: { path: string; bytes: Uint8Array }[] = [];
  try {
    files = readdirSync(corpus).filter((f) => f.endsWith(".vmx")).map((f) => ({ path: join(corpus, f), bytes: new Uint8Array(readFileSync(join(corpus, f))) }));
  } catch {
    console.warn(`(skipped the VMX corpus benchmark: ${corpus} is not there)`);
  }
  if (files.length) {
    rows.push({
      name: `read ${files.length} VMX files to SourceVm`,
      unit: "ms",
      ferry: time(20, () => files.forEach((f) => readVmx(f.bytes, { vmxPath: f.path }))),
      baseline: time(20, () =>
        files.forEach((f) => {
          const m = new Map<string, string>();
          for (const l of Buffer.from(f.bytes).toString("utf8").split("\n")) {
            const i = l.indexOf("=");
            if (i > 0) m.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim().replace(/^"|"$/g, ""));
          }
        }),
      ),
      baselineName: "naive key=value split (no tree, no model)",
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const header = ["benchmark", "ferry", "baseline", "ratio", "baseline is", "target"];
const verdict = (r: Row) =>
  r.target !== undefined
    ? `< ${r.target} ${r.unit}: ${r.ferry < r.target ? "met" : "MISSED"}`
    : r.targetRatio !== undefined
      ? `ratio <= ${r.targetRatio}: ${r.ferry / r.baseline <= r.targetRatio ? "met" : "MISSED"}`
      : "";
const table = rows.map((r) => [r.name, `${r.ferry.toFixed(2)} ${r.unit}`, `${r.baseline.toFixed(2)} ${r.unit}`, (r.ferry / r.baseline).toFixed(3), r.baselineName, verdict(r)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
console.log(line(header));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of table) console.log(line(r));
