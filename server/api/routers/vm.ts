import { z } from "zod";
import { FerryErrorData, FerryError } from "../../errors";
import { InspectedVm, inspectGuest } from "../../input/inspect-guest";
import { JobOptions } from "../../jobs";
import { planTarget, TargetPlan } from "../../plan";
import { findOutput, findShare, resolveInShare } from "../../shares";
import { publicProcedure, router } from "../trpc";

export const vmRouter = router({
  /** The guest as found (SourceVm, disk facts, concerns) and the KVM guest Ferry proposes, each change with its reason. */
  preview: publicProcedure
    .input(z.object({ share: z.string().min(1).max(64), relPath: z.string().min(1).max(4096), options: JobOptions.partial().optional() }))
    .output(z.object({ vm: InspectedVm, plan: TargetPlan.nullable(), planError: FerryErrorData.nullable(), copyOnly: z.literal(true), note: z.string() }))
    .query(({ ctx, input }) => {
      const share = findShare(ctx.ferry.config, input.share);
      const p = resolveInShare(share, input.relPath);
      const vm = inspectGuest(p.abs, { datastores: share.datastores, noFollow: true });
      const options = JobOptions.parse(input.options ?? {});
      let plan = null;
      let planError = null;
      try {
        plan = planTarget(vm, { ...options, outputDir: findOutput(ctx.ferry.config, options.target).path, copyOnly: true });
      } catch (e) {
        if (!(e instanceof FerryError)) throw e;
        planError = e.toJSON();
      }
      return { vm, plan, planError, copyOnly: true as const, note: "Guest conversion is not available yet: jobs copy the disks and write the metadata; the guest keeps its drivers (SATA disks, e1000e NICs)." };
    }),
});
