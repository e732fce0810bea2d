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
import { makeFourDiskGuest } from "../../test/fixtures/guest";

interface Row {
  name: string;
  unit: string;
  ferry: number;
  baseline: number;
  baselineName: string;
  /** An absolute bound the issue sets, in `unit`. */
  target?: number;
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
try {
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
const table = rows.map((r) => [r.name, `${r.ferry.toFixed(2)} ${r.unit}`, `${r.baseline.toFixed(2)} ${r.unit}`, (r.ferry / r.baseline).toFixed(3), r.baselineName, r.target !== undefined ? `< ${r.target} ${r.unit}: ${r.ferry < r.target ? "met" : "MISSED"}` : ""]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
console.log(line(header));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of table) console.log(line(r));
