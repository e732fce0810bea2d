import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors";
import { freeBytes } from "../host-fs";
import { openOutput, type Output } from "../output";
import type { TargetPlan } from "../plan";
import { Appliance } from "../convert/appliance";
import { checkGuestFreeSpace } from "../convert/free-space";
import { describeOs, type ConversionReport, type GuestInspection } from "../convert/guest";
import { inspectGuestOs } from "../convert/inspect";
import { convertLinux } from "../convert/linux";
import { bootCheckFiles } from "../output/output";
import { pciLayout } from "../plan/pci-layout";
import { convert, createOverlay, measure } from "../qemu";
import { bootCheck } from "../qemu/boot-check";
import { formatBytes } from "../units";
import type { PipelineEvent, ResultFile } from "./events";
import { ProgressTracker } from "./progress";

/**
 * The driver: runs named stages in order, as virt-v2v does, emitting events.
 * The source is only ever read through qcow2 overlays; outputs are staged
 * and renamed into place at the end; whatever happens, the overlays go and
 * a failed or cancelled run leaves nothing in the output folder.
 */

export interface RunOptions {
  emit: (e: PipelineEvent) => void;
  signal?: AbortSignal;
  /** Where overlays live while the run lasts (default: the system's temporary folder). */
  overlayDir?: string;
  /** A copy that makes no progress for this long fails (default 5 minutes). */
  stallMs?: number;
  /** Boot check time limit (default: 3 minutes with KVM, 10 under TCG). */
  bootTimeoutMs?: number;
  /** Log every libguestfs call and the boot check's console (-v). */
  verbose?: boolean;
}

/** The overlay folder needs room for the overlays' metadata and any writes a conversion makes. */
export const MIN_OVERLAY_FREE = 1024 ** 3;

/** Headroom on the target beyond qemu-img measure's estimate. */
export function targetMargin(required: number): number {
  return Math.max(64 * 1024 ** 2, Math.ceil(required * 0.05));
}

/** What a source file looked like when the run opened it. */
interface FileState {
  size: number;
  mtimeMs: number;
  ino: number;
}

function fileState(path: string): FileState | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch {
    return null;
  }
}

/**
 * qemu-img reads a truncated or rewritten source without complaint (past the
 * end it reads zeros), so every source file is compared with its state at
 * the start, after each copy and before anything is committed.
 */
function checkSourcesUnchanged(ctx: Context): void {
  for (const [path, before] of ctx.sources) {
    const now = fileState(path);
    if (!now) {
      throw new FerryError({ code: "source.vanished", message: "a source file disappeared or became unreadable during the copy", file: path, hint: "check the NAS share; then retry. The partial copy was removed." });
    }
    if (now.size !== before.size || now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) {
      throw new FerryError({ code: "source.changed", message: `a source file changed during the copy (size ${before.size} → ${now.size} bytes); the copy cannot be trusted`, file: path, hint: "make sure the guest is shut down on VMware and nothing writes to its folder; then retry" });
    }
  }
}

interface Context {
  plan: TargetPlan;
  sources: Map<string, FileState>;
  overlayRoot: string | null;
  overlays: string[];
  output: Output | null;
  appliance: Appliance | null;
  guest: GuestInspection | null;
  conversion: ConversionReport | null;
}

interface StageDef {
  name: string;
  run: (ctx: Context) => Promise<string | void> | string | void;
}

export async function runPipeline(plan: TargetPlan, options: RunOptions): Promise<ResultFile[]> {
  const started = performance.now();
  const t = () => Math.round((performance.now() - started) / 100) / 10;
  const emit = options.emit;
  const log = (message: string) => emit({ type: "log", t: t(), message });
  const warn = (code: string, message: string) => emit({ type: "warning", t: t(), code, message });
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const signal = inner.signal;
  // A cancel mid-inspection or mid-conversion stops the appliance at once (its calls then fail).
  signal.addEventListener("abort", () => ctx.appliance?.kill(), { once: true });
  const ctx: Context = { plan, sources: new Map(), overlayRoot: null, overlays: [], output: null, appliance: null, guest: null, conversion: null };
  const n = plan.disks.length;

  const fixed: StageDef[] = [
    {
      name: "Opening the source",
      run: () => {
        const blocking = plan.concerns.filter((c) => c.severity === "critical");
        if (blocking.length) {
          throw new FerryError({ code: "pipeline.blocked", message: `the guest cannot be converted: ${blocking.map((c) => c.message).join("; ")}`, file: plan.vmxPath, hint: "resolve the critical concerns shown by 'ferry inspect' first" });
        }
        for (const d of plan.disks) {
          for (const f of [d.sourcePath, ...d.sourceFiles]) {
            const st = fileState(f);
            if (!st) throw new FerryError({ code: "source.vanished", message: "a source file is gone since the guest was inspected", file: f, hint: "inspect the guest again" });
            ctx.sources.set(f, st);
          }
        }
        log(`${plan.vmxPath}: ${n} disk${n === 1 ? "" : "s"}, ${formatBytes(plan.disks.reduce((s, d) => s + d.capacityBytes, 0))} in all`);
      },
    },
    {
      name: "Creating an overlay to protect the source from being modified",
      run: async () => {
        const base = options.overlayDir ?? tmpdir();
        const free = freeBytes(base);
        if (free < MIN_OVERLAY_FREE) {
          throw new FerryError({ code: "pipeline.overlay-space", message: `the overlay folder has ${formatBytes(free)} free; Ferry needs at least ${formatBytes(MIN_OVERLAY_FREE)} there`, file: base, hint: "free space there, or set TMPDIR to a folder with more room" });
        }
        ctx.overlayRoot = mkdtempSync(join(base, "ferry-overlay-"));
        for (const d of plan.disks) {
          const overlay = join(ctx.overlayRoot, `${d.dev}.qcow2`);
          await createOverlay(overlay, d.sourcePath, "vmdk", signal);
          ctx.overlays.push(overlay);
        }
      },
    },
    {
      name: "Inspecting the overlay",
      run: async () => {
        if (plan.copyOnly) {
          warn("pipeline.copy-only", "copy-only: the guest is neither inspected nor converted; it may not boot on KVM");
          return "skipped";
        }
        // One appliance for inspection and conversion; it writes only to the overlays.
        ctx.appliance = await Appliance.launch({ drives: ctx.overlays.map((path) => ({ path, format: "qcow2" as const })), signal, trace: options.verbose ? log : undefined });
        log(`libguestfs appliance up (${ctx.appliance.accel.reason})`);
        const g = await inspectGuestOs(ctx.appliance);
        ctx.guest = g;
        emit({ type: "inspection", t: t(), guest: g });
        log(`${describeOs(g)} (${g.type}, ${g.arch}); root ${g.root}; package format ${g.packageFormat}`);
        for (const k of g.kernels) log(`kernel ${k.version}: ${Object.entries(k.virtio).map(([d, w]) => `${d} ${w}`).join(", ")}`);
        if (g.vmwareTools.length) log(`VMware tools: ${g.vmwareTools.join(", ")}`);
        for (const u of g.unmounted) warn("convert.unmounted", `a guest filesystem did not mount, so the conversion cannot see or change it: ${u}`);
      },
    },
    {
      name: "Checking for sufficient free disk space in the guest",
      run: () => {
        if (!ctx.guest) return "skipped";
        for (const f of ctx.guest.filesystems) log(`${f.mountpoint} (${f.device}): ${formatBytes(f.freeBytes)} free of ${formatBytes(f.sizeBytes)}, ${f.freeInodes} free inodes`);
        checkGuestFreeSpace(ctx.guest.filesystems);
      },
    },
    {
      name: "Converting the guest to run on KVM",
      run: async () => {
        if (!ctx.appliance || !ctx.guest || !plan.conversion) return "skipped";
        const report = await convertLinux(ctx.appliance, ctx.guest, {
          devices: new Map(Object.entries(plan.conversion.devices)),
          nicNames: plan.conversion.nicNames,
          targetDisks: plan.disks.map((d) => d.dev),
          log,
          warn,
        });
        ctx.conversion = report;
        emit({ type: "conversion", t: t(), report });
      },
    },
    {
      name: "Mapping filesystem data to avoid copying unused and blank areas",
      run: async () => {
        if (!ctx.appliance || !ctx.guest) return "skipped";
        for (const m of ctx.guest.filesystems) {
          // Discarded blocks become holes in the overlay, so the copy skips them.
          try {
            await ctx.appliance.call("fstrim", m.mountpoint);
          } catch (e) {
            if (!(e instanceof FerryError) || e.code !== "guestfs.call") throw e;
            log(`${m.mountpoint}: not trimmed (${e.message}); its free blocks are copied`);
          }
        }
      },
    },
    {
      name: "Closing the overlay",
      run: async () => {
        if (!ctx.appliance) return "skipped";
        await ctx.appliance.close();
        ctx.appliance = null;
      },
    },
    {
      name: "Estimating space required on target for each disk",
      run: async () => {
        let required = 0;
        for (let i = 0; i < n; i++) {
          // A sparse raw file takes only its data, but measure -O raw reports the
          // whole virtual size; its qcow2 figure is the data plus a little metadata.
          const sparseRaw = plan.format === "raw" && plan.allocation === "sparse";
          const m = await measure(ctx.overlays[i]!, "qcow2", sparseRaw ? "qcow2" : plan.format, signal);
          const need = plan.allocation === "preallocated" ? m.fullyAllocated : m.required;
          log(`disk ${i + 1}/${n} (${plan.disks[i]!.sourceId}): ${formatBytes(need)}`);
          required += need;
        }
        const need = required + targetMargin(required);
        const free = freeBytes(plan.output.dir);
        if (free < need) {
          throw new FerryError({ code: "output.no-space", message: `the output folder has ${formatBytes(free)} free; this guest needs ${formatBytes(need)} (${formatBytes(required)} estimated by qemu-img measure, plus a margin)`, file: plan.output.dir, hint: "free space there, choose another folder (-os), or copy sparse (-oa sparse)" });
        }
      },
    },
    {
      name: `Setting up the destination: -o ${plan.output.mode} -os ${plan.output.dir}`,
      run: () => {
        ctx.output = openOutput(plan);
      },
    },
  ];
  const tail: StageDef[] = [
    { name: "Creating output metadata", run: () => ctx.output!.writeMetadata() },
    {
      name: "Checking that the guest boots",
      run: async () => {
        if (!plan.bootCheck) return "skipped";
        if (ctx.conversion && !ctx.conversion.serialConsole) {
          // Without console=ttyS0 a good guest shows no login prompt where the check listens.
          warn("boot-check.no-serial", "the boot check was skipped: Ferry could not put the kernel's console on the serial port (no /etc/default/grub); the guest is not verified");
          return "skipped";
        }
        const layout = pciLayout(plan);
        const names = bootCheckFiles(plan);
        const r = await bootCheck({
          disks: plan.disks.map((d, i) => ({ path: ctx.output!.stagedDisks[i]!, format: plan.format, bus: d.bus, pciBus: layout.diskBus[i] ?? null })),
          nics: plan.nics.map((nic, i) => ({ model: nic.model, mac: nic.mac, pciBus: layout.nicBus[i]! })),
          rootPorts: layout.rootPorts,
          firmware: plan.firmware,
          memoryMiB: plan.memoryMiB,
          vcpus: plan.vcpus,
          consoleLog: ctx.output!.stageFile(names.console, "console"),
          screenshot: ctx.output!.stageFile(names.screenshot, "screenshot"),
          timeoutMs: options.bootTimeoutMs,
          signal,
          log,
        });
        emit({ type: "boot", t: t(), ok: r.ok, seconds: r.seconds, accel: r.accel, line: r.line, failure: r.failure, lastLines: r.lastLines, dhcpFrom: r.dhcpFrom });
        if (!r.ok) {
          throw new FerryError({
            code: "boot-check.failed",
            message: `${r.failure} (after ${r.seconds} s). Last console lines:\n${r.lastLines.map((l) => `  ${l}`).join("\n")}`,
            file: null,
            hint: "the output was not kept; run with --no-boot-check to keep an unverified copy, or -v for the whole console",
          });
        }
        log(`login prompt after ${r.seconds} s: "${r.line}"`);
        if (plan.nics.length) {
          if (r.dhcpFrom.length) log(`network up: DHCP request from ${r.dhcpFrom.join(", ")}`);
          else warn("boot-check.network", "the guest booted but sent no DHCP request: its network configuration may not match the new NIC (or it uses a static address)");
        }
      },
    },
  ];
  const total = fixed.length + n + tail.length + 1;
  let index = 0;
  let current = "";

  const runStage = async (name: string, idx: number, fn: () => Promise<string | void> | string | void) => {
    if (signal.aborted) throw cancelled();
    current = name;
    const at = performance.now();
    emit({ type: "stage", t: t(), name, index: idx, total, state: "started" });
    const r = await fn();
    emit({ type: "stage", t: t(), name, index: idx, total, state: r === "skipped" ? "skipped" : "finished", seconds: Math.round(performance.now() - at) / 1000 });
  };
  const cancelled = () => new FerryError({ code: "pipeline.cancelled", message: "the conversion was cancelled", file: plan.vmxPath, hint: "nothing was left in the output folder; the source was not changed" });

  try {
    for (const s of fixed) await runStage(s.name, ++index, () => s.run(ctx));

    // Copy disks, plan.parallel at a time.
    const copyBase = index;
    index += n;
    let next = 0;
    const copyOne = async (i: number) => {
      const d = plan.disks[i]!;
      await runStage(`Copying disk ${i + 1}/${n}`, copyBase + i + 1, async () => {
        const tracker = new ProgressTracker(d.capacityBytes, (p) => emit({ type: "progress", t: t(), disk: i + 1, disks: n, bytesDone: p.bytesDone, bytesTotal: d.capacityBytes, rate: p.rate }));
        tracker.start();
        // Watch the source while copying: stop at once if it vanishes or changes.
        let sourceError: FerryError | null = null;
        const watch = setInterval(() => {
          try {
            checkSourcesUnchanged(ctx);
          } catch (e) {
            sourceError = e as FerryError;
            inner.abort();
          }
        }, 1000);
        try {
          await convert({
            source: ctx.overlays[i]!,
            sourceFormat: "qcow2",
            target: ctx.output!.stagedDisks[i]!,
            targetFormat: plan.format,
            preallocate: plan.allocation === "preallocated",
            signal,
            stallMs: options.stallMs,
            rateLimit: plan.rateLimit,
            onProgress: (pct) => tracker.update(pct),
          });
          checkSourcesUnchanged(ctx);
          tracker.update(100);
        } catch (e) {
          throw sourceError ?? e;
        } finally {
          clearInterval(watch);
          tracker.stop();
        }
      });
    };
    const workers = Array.from({ length: Math.min(plan.parallel, n) }, async () => {
      while (next < n) {
        const i = next++;
        await copyOne(i);
      }
    });
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;

    for (const s of tail) await runStage(s.name, ++index, () => s.run(ctx));
    let files: ResultFile[] = [];
    await runStage("Finishing off", ++index, () => {
      checkSourcesUnchanged(ctx);
      files = ctx.output!.commit();
    });
    emit({ type: "result", t: t(), files });
    return files;
  } catch (e) {
    inner.abort();
    ctx.appliance?.kill();
    ctx.output?.abort();
    let err: FerryError;
    if (options.signal?.aborted) err = cancelled();
    else if (e instanceof FerryError && e.code === "qemu.failed" && /No space left on device/i.test(e.message)) {
      err = new FerryError({ code: "output.no-space", message: `the output folder filled up while copying: ${e.message}`, file: plan.output.dir, hint: "free space there (or choose another folder with -os) and run again; nothing was left behind" });
    } else if (e instanceof FerryError) err = e;
    else {
      const ne = e as NodeJS.ErrnoException;
      err = new FerryError({ code: ne.code === "ENOSPC" ? "output.no-space" : "pipeline.io", message: ne.message, file: ne.path ?? null, hint: ne.code === "ENOSPC" ? "the output folder filled up; free space and retry" : null });
    }
    emit({ type: "stage", t: t(), name: current, index, total, state: "failed" });
    emit({ type: "error", t: t(), code: err.code, message: err.message, file: err.file, line: err.line, hint: err.hint });
    throw err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (ctx.overlayRoot) rmSync(ctx.overlayRoot, { recursive: true, force: true });
  }
}
