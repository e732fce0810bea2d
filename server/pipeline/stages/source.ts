import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../../errors";
import { freeBytes } from "../../host-fs";
import { createOverlay } from "../../qemu";
import { formatBytes } from "../../units";
import { fileState, type Stage } from "../context";

/** The overlay folder needs room for the overlays' metadata and any writes a conversion makes. */
export const MIN_OVERLAY_FREE = 1024 ** 3;

export const openSource: Stage = {
  name: "Opening the source",
  run: async ({ plan, sources, log, input }) => {
    const blocking = plan.concerns.filter((c) => c.severity === "critical");
    if (blocking.length) {
      throw new FerryError({ code: "pipeline.blocked", message: `the guest cannot be converted: ${blocking.map((c) => c.message).join("; ")}`, file: plan.vmxPath, hint: "resolve the critical concerns shown by 'ferry inspect' first" });
    }
    for (const d of plan.disks) {
      for (const f of [d.sourcePath, ...d.sourceFiles]) {
        const st = await fileState(input, f);
        if (!st) throw new FerryError({ code: "source.vanished", message: "a source file is gone since the guest was inspected", file: input.label(f), hint: "inspect the guest again" });
        sources.set(f, st);
      }
    }
    const n = plan.disks.length;
    log(`${plan.vmxPath}: ${n} disk${n === 1 ? "" : "s"}, ${formatBytes(plan.disks.reduce((s, d) => s + d.capacityBytes, 0))} in all`);
  },
};

export const createOverlays: Stage = {
  name: "Creating an overlay to protect the source from being modified",
  run: async (ctx) => {
    const base = ctx.options.overlayDir ?? tmpdir();
    const free = freeBytes(base);
    if (free < MIN_OVERLAY_FREE) {
      throw new FerryError({ code: "pipeline.overlay-space", message: `the overlay folder has ${formatBytes(free)} free; Ferry needs at least ${formatBytes(MIN_OVERLAY_FREE)} there`, file: base, hint: "free space there, or set TMPDIR to a folder with more room" });
    }
    ctx.overlayRoot = mkdtempSync(join(base, "ferry-overlay-"));
    for (const d of ctx.plan.disks) {
      const overlay = join(ctx.overlayRoot, `${d.dev}.qcow2`);
      await createOverlay(overlay, d.source.uri, d.source.format, ctx.signal, await ctx.input.qemuEnv());
      ctx.overlays.push(overlay);
    }
  },
};
