import { FerryError } from "../../errors";
import { destinationArgs, destinationFreeBytes, destinationName, openDestination } from "../../output";
import type { TargetPlan } from "../../plan";
import { measure } from "../../qemu";
import { formatBytes } from "../../units";
import type { Stage } from "../context";

/** Headroom on the target beyond qemu-img measure's estimate. */
export function targetMargin(required: number): number {
  return Math.max(64 * 1024 ** 2, Math.ceil(required * 0.05));
}

export const estimateSpace: Stage = {
  name: "Estimating space required on target for each disk",
  run: async ({ plan, overlays, signal, log, input }) => {
    const n = plan.disks.length;
    let required = 0;
    for (let i = 0; i < n; i++) {
      // A sparse raw file takes only its data, but measure -O raw reports the
      // whole virtual size; its qcow2 figure is the data plus a little metadata.
      const sparseRaw = plan.format === "raw" && plan.allocation === "sparse";
      const m = await measure(overlays[i]!, "qcow2", sparseRaw ? "qcow2" : plan.format, signal, await input.qemuEnv());
      const need = plan.allocation === "preallocated" ? m.fullyAllocated : m.required;
      log(`disk ${i + 1}/${n} (${plan.disks[i]!.sourceId}): ${formatBytes(need)}`);
      required += need;
    }
    const need = required + targetMargin(required);
    const free = destinationFreeBytes(plan);
    if (free < need) {
      throw new FerryError({ code: "output.no-space", message: `${destinationName(plan)} has ${formatBytes(free)} free; this guest needs ${formatBytes(need)} (${formatBytes(required)} estimated by qemu-img measure, plus a margin)`, file: plan.output.dir, hint: "free space there, choose another folder or pool (-os), or copy sparse (-oa sparse)" });
    }
  },
};

export const setUpDestination = (plan: TargetPlan): Stage => ({
  name: `Setting up the destination: ${destinationArgs(plan)}`,
  run: async (ctx) => {
    ctx.output = await openDestination(ctx.plan);
  },
});

export const writeMetadata: Stage = {
  name: "Creating output metadata",
  run: (ctx) => ctx.output!.writeMetadata(ctx.conversion),
};
