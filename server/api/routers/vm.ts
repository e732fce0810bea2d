import { z } from "zod";
import { FerryErrorData, FerryError } from "../../errors";
import { InspectedVm, inspectGuest } from "../../input/inspect-guest";
import { virtioWinFor } from "../../convert/virtio-win-source";
import { JobOptions, planOptionsFor } from "../../jobs";
import { planTarget, TargetPlan } from "../../plan";
import { findOutput, findShare, resolveInShare, withShareInput } from "../../shares";
import { freeBytesOrNull } from "../../host-fs";
import { join } from "node:path";
import { readVmxBytes } from "../../input/vmx-file";
import { previewMetadata } from "../../output";
import { resolveDestination } from "../../output/targets";
import { viewerProcedure, router } from "../trpc";

function decodeLines(bytes: Uint8Array, charset: string): string[] {
  let text: string;
  try {
    text = new TextDecoder(charset).decode(bytes);
  } catch {
    text = new TextDecoder().decode(bytes);
  }
  return text.split(/\r\n|\n|\r/);
}

export const vmRouter = router({
  /** The guest as found (SourceVm, disk facts, concerns) and the KVM guest Ferry proposes, each change with its reason. */
  preview: viewerProcedure
    .input(z.object({ share: z.string().min(1).max(64), relPath: z.string().min(1).max(4096), options: JobOptions.partial().optional() }))
    .output(
      z.object({
        vm: InspectedVm,
        /** The VMX's lines, decoded, for "where does this value come from". */
        vmxLines: z.array(z.string()),
        plan: TargetPlan.nullable(),
        planError: FerryErrorData.nullable(),
        /** The metadata that will be written (libvirt XML for -o local, the script, or JSON). */
        metadata: z.string().nullable(),
        /** Bytes the target needs at least (data in the disks). */
        estimateBytes: z.number().int().nonnegative(),
        outputFreeBytes: z.number().nullable(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const share = findShare(ctx.ferry.config, input.share);
      return withShareInput(share, async (source) => {
      const p = await resolveInShare(share, input.relPath, source);
      const vm = await inspectGuest(p.abs, { datastores: share.datastores, noFollow: true, input: source });
      const options = JobOptions.parse(input.options ?? {});
      let plan = null;
      let planError = null;
      try {
        const destination = await resolveDestination(findOutput(ctx.ferry.config, options.target), options.output);
        plan = planTarget(vm, planOptionsFor(options, destination, options.copyOnly, await virtioWinFor(vm, options.useVirtioWin, ctx.ferry.config.virtioWin ?? null)));
      } catch (e) {
        if (!(e instanceof FerryError)) throw e;
        planError = e.toJSON();
      }
      const finalDisks = plan ? plan.disks.map((d) => join(plan.output.dir, d.targetName)) : [];
      const metadata = plan ? previewMetadata(plan, finalDisks) : null;
      const outputFreeBytes = plan ? freeBytesOrNull(plan.output.dir) : null;
      return {
        vm,
        vmxLines: decodeLines(await readVmxBytes(p.abs, { noFollow: true }, source), vm.encoding),
        plan,
        planError,
        metadata,
        estimateBytes: plan ? plan.disks.reduce((s, d) => s + (d.allocatedBytes ?? d.capacityBytes), 0) : 0,
        outputFreeBytes,
      };
      });
    }),
});
