import { execFileSync, spawnSync } from "node:child_process";
import type { ConversionReport, LinuxConversionReport } from "../../server/convert/guest";
import { inspectGuest } from "../../server/input/inspect-guest";
import { runPipeline, type PipelineEvent } from "../../server/pipeline";
import { planTarget, type PlanOptions } from "../../server/plan";

/** A file from the ext4 partition (at 1 MiB) of a raw disk image, read on the host; null when absent. */
export function guestFile(raw: string, path: string): Buffer | null {
  const r = spawnSync("debugfs", ["-R", `cat ${path}`, `${raw}?offset=1048576`], { maxBuffer: 512 * 1024 ** 2 });
  if (r.status !== 0 || /not found|File not found/i.test(r.stderr.toString())) return null;
  return r.stdout;
}

export function guestText(raw: string, path: string): string | null {
  return guestFile(raw, path)?.toString("utf8") ?? null;
}

export interface Run {
  events: PipelineEvent[];
  error: Error | null;
  failedStage: string | null;
  started: string[];
}

/** The pipeline, in-process, collecting events. */
export async function run(vmx: string, options: Partial<PlanOptions> & { outputDir: string }, bootTimeoutMs?: number): Promise<Run> {
  const events: PipelineEvent[] = [];
  let error: Error | null = null;
  try {
    const plan = planTarget(await inspectGuest(vmx), options);
    await runPipeline(plan, { emit: (e) => events.push(e), bootTimeoutMs });
  } catch (e) {
    error = e as Error;
  }
  const stages = events.filter((e): e is Extract<PipelineEvent, { type: "stage" }> => e.type === "stage");
  return {
    events,
    error,
    failedStage: stages.find((s) => s.state === "failed")?.name ?? null,
    started: stages.filter((s) => s.state === "started").map((s) => s.name),
  };
}

export function validateXml(path: string): void {
  execFileSync("virt-xml-validate", [path, "domain"], { stdio: "pipe" });
}

type Ev<T extends PipelineEvent["type"]> = Extract<PipelineEvent, { type: T }>;

/** The first event of a type, or a failure naming what the run did instead. */
export function eventOf<T extends PipelineEvent["type"]>(r: Run, type: T): Ev<T> {
  const e = r.events.find((x): x is Ev<T> => x.type === type);
  if (!e) throw new Error(`no ${type} event; the run ${r.error ? `failed in "${r.failedStage}": ${r.error.message}` : "succeeded without it"}`);
  return e;
}

/** The MACs the VMX gives its NICs, in order (`ethernetN.generatedAddress`). */
export function vmxMacs(vmxText: string): string[] {
  return [...vmxText.matchAll(/^ethernet(\d+)\.(?:generatedAddress|address) = "([0-9a-f:]{17})"$/gim)].sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => m[2]!.toLowerCase());
}

/** The guest's own report of its NICs on the serial console (ferry-nic-report in the test guests). */
export function nicReport(console: string): Record<string, { mac: string; addr: string } | "absent"> {
  const out: Record<string, { mac: string; addr: string } | "absent"> = {};
  for (const m of console.matchAll(/ferry-nic: (\S+) (?:mac=(\S+) addr=(\S+)|absent)/g)) out[m[1]!] = m[2] ? { mac: m[2], addr: m[3]! } : "absent";
  return out;
}

/** A Linux guest's conversion report (fails the test if the report is another family's). */
export function asLinux(report: ConversionReport): LinuxConversionReport {
  if (report.family !== "linux") throw new Error(`expected a Linux conversion report, got ${report.family}`);
  return report;
}
