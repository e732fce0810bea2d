import { z } from "zod";
import { FerryErrorData } from "../../errors";
import { MAX_VMX_BYTES, readVmx, SourceVm } from "../../vmx";
import { viewerProcedure, router } from "../trpc";

export const ReadVmxInput = z.object({
  /** The file's name, used for messages and as the name of last resort. */
  fileName: z.string().min(1).max(255).refine((s) => !s.includes("\0") && !s.includes("/"), "a file name, not a path"),
  /** The file's bytes, base64-encoded (a VMX may use any charset). */
  base64: z.string().max(Math.ceil((MAX_VMX_BYTES + 1) / 3) * 4 + 4),
});

export const ReadVmxOutput = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), vm: SourceVm }),
  z.object({ ok: z.literal(false), error: FerryErrorData }),
]);

export const vmxRouter = router({
  /** Read a .vmx the browser holds (dropped or pasted) into a SourceVm. Pure: nothing is written. */
  read: viewerProcedure
    .input(ReadVmxInput)
    .output(ReadVmxOutput)
    .mutation(({ input }) => {
      const bytes = new Uint8Array(Buffer.from(input.base64, "base64"));
      const r = readVmx(bytes, { vmxPath: input.fileName });
      return r.ok ? { ok: true as const, vm: r.vm } : { ok: false as const, error: r.error.toJSON() };
    }),
});
