import { rmSync } from "node:fs";
import { FerryError } from "../errors";
import { localInput } from "../input/local";
import type { TargetPlan } from "../plan";
import { checkSourcesUnchanged, type Context, type RunOptions, type Stage } from "./context";
import type { ResultFile } from "./events";
import { checkBoot } from "./stages/boot";
import { copyDisk } from "./stages/copy";
import { checkFreeSpace, closeOverlay, convertGuest, inspectOverlay, trimFilesystems } from "./stages/guest";
import { createOverlays, openSource } from "./stages/source";
import { estimateSpace, setUpDestination, writeMetadata } from "./stages/target";

/**
 * The driver: runs named stages in order, as virt-v2v does, emitting events.
 * The source is only ever read through qcow2 overlays; outputs are staged
 * and renamed into place at the end; whatever happens, the overlays go and
 * a failed or cancelled run leaves nothing in the output folder.
 */

export type { RunOptions } from "./context";
export { MIN_OVERLAY_FREE } from "./stages/source";
export { targetMargin } from "./stages/target";

/** The stages, in order; the disk copies run plan.parallel at a time. */
function stages(plan: TargetPlan, finish: Stage): Array<Stage | Stage[]> {
  const n = plan.disks.length;
  return [
    openSource,
    createOverlays,
    inspectOverlay,
    checkFreeSpace,
    convertGuest,
    trimFilesystems,
    closeOverlay,
    estimateSpace,
    setUpDestination(plan),
    plan.disks.map((d, i) => copyDisk(d, i, n)),
    writeMetadata,
    checkBoot,
    finish,
  ];
}

export async function runPipeline(plan: TargetPlan, options: RunOptions): Promise<ResultFile[]> {
  const started = performance.now();
  const t = () => Math.round((performance.now() - started) / 100) / 10;
  const emit = options.emit;
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const ctx: Context = {
    plan, options, signal: inner.signal, abort: () => inner.abort(), t, emit,
    log: (message) => emit({ type: "log", t: t(), message }),
    warn: (code, message) => emit({ type: "warning", t: t(), code, message }),
    input: options.input ?? localInput,
    sources: new Map(), overlayRoot: null, overlays: [], output: null, appliance: null, guest: null, converter: null, conversion: null,
  };
  // A cancel mid-inspection or mid-conversion stops the appliance at once (its calls then fail).
  inner.signal.addEventListener("abort", () => ctx.appliance?.kill(), { once: true });

  let files: ResultFile[] = [];
  const finish: Stage = {
    name: "Finishing off",
    run: async () => {
      await checkSourcesUnchanged(ctx);
      files = await ctx.output!.commit({ log: ctx.log, warn: ctx.warn, domain: (d) => emit({ type: "domain", t: t(), ...d }) });
    },
  };
  const list = stages(plan, finish);
  const total = list.reduce((s, x) => s + (Array.isArray(x) ? x.length : 1), 0);
  let index = 0;
  let current = "";
  const cancelled = () => new FerryError({ code: "pipeline.cancelled", message: "the conversion was cancelled", file: plan.vmxPath, hint: "nothing was left in the output folder; the source was not changed" });
  const runStage = async (s: Stage, idx: number) => {
    if (inner.signal.aborted) throw cancelled();
    current = s.name;
    const at = performance.now();
    emit({ type: "stage", t: t(), name: s.name, index: idx, total, state: "started" });
    const r = await s.run(ctx);
    emit({ type: "stage", t: t(), name: s.name, index: idx, total, state: r === "skipped" ? "skipped" : "finished", seconds: Math.round(performance.now() - at) / 1000 });
  };
  // Parallel stages (the disk copies) share a queue; the first failure fails the run.
  const runParallel = async (group: Stage[], base: number) => {
    let next = 0;
    const workers = Array.from({ length: Math.min(plan.parallel, group.length) }, async () => {
      while (next < group.length) {
        const i = next++;
        await runStage(group[i]!, base + i + 1);
      }
    });
    const failed = (await Promise.allSettled(workers)).find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  };

  try {
    for (const s of list) {
      if (Array.isArray(s)) {
        await runParallel(s, index);
        index += s.length;
      } else await runStage(s, ++index);
    }
    emit({ type: "result", t: t(), files });
    return files;
  } catch (e) {
    inner.abort();
    ctx.appliance?.kill();
    await ctx.output?.abort();
    const err = options.signal?.aborted ? cancelled() : asFerryError(e, plan);
    emit({ type: "stage", t: t(), name: current, index, total, state: "failed" });
    emit({ type: "error", t: t(), code: err.code, message: err.message, file: err.file, line: err.line, hint: err.hint });
    throw err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (ctx.overlayRoot) rmSync(ctx.overlayRoot, { recursive: true, force: true });
  }
}

/** Every failure leaves as a FerryError with a hint; a full disk says so. */
function asFerryError(e: unknown, plan: TargetPlan): FerryError {
  if (e instanceof FerryError && e.code === "qemu.failed" && /No space left on device/i.test(e.message)) {
    return new FerryError({ code: "output.no-space", message: `the output folder filled up while copying: ${e.message}`, file: plan.output.dir, hint: "free space there (or choose another folder with -os) and run again; nothing was left behind" });
  }
  if (e instanceof FerryError) return e;
  const ne = e as NodeJS.ErrnoException;
  return new FerryError({ code: ne.code === "ENOSPC" ? "output.no-space" : "pipeline.io", message: ne.message, file: ne.path ?? null, hint: ne.code === "ENOSPC" ? "the output folder filled up; free space and retry" : null });
}
