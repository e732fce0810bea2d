import type { PlannedDisk } from "../../plan";
import { convert } from "../../qemu";
import { checkSourcesUnchanged, type Context, type Stage } from "../context";
import { ProgressTracker } from "../progress";

/** One stage per disk: the overlay (source plus the conversion's changes) into the staged output. */
export function copyDisk(d: PlannedDisk, i: number, n: number): Stage {
  return {
    name: `Copying disk ${i + 1}/${n}`,
    run: async (ctx: Context) => {
      const { plan } = ctx;
      const tracker = new ProgressTracker(d.capacityBytes, (p) => ctx.emit({ type: "progress", t: ctx.t(), disk: i + 1, disks: n, bytesDone: p.bytesDone, bytesTotal: d.capacityBytes, rate: p.rate }));
      tracker.start();
      // Watch the source while copying: stop at once if it vanishes or changes.
      let sourceError: unknown = null;
      let checking = false;
      const watch = setInterval(() => {
        if (checking) return;
        checking = true;
        checkSourcesUnchanged(ctx)
          .catch((e: unknown) => {
            sourceError ??= e;
            ctx.abort();
          })
          .finally(() => (checking = false));
      }, 1000);
      try {
        await convert({
          source: ctx.overlays[i]!,
          sourceFormat: "qcow2",
          target: ctx.output!.stagedDisks[i]!,
          targetFormat: plan.format,
          preallocate: plan.allocation === "preallocated",
          signal: ctx.signal,
          stallMs: ctx.options.stallMs,
          rateLimit: plan.rateLimit,
          onProgress: (pct) => tracker.update(pct),
          env: await ctx.input.qemuEnv(),
        });
        await checkSourcesUnchanged(ctx);
        tracker.update(100);
      } catch (e) {
        throw sourceError ?? e;
      } finally {
        clearInterval(watch);
        tracker.stop();
      }
    },
  };
}
