import { z } from "zod";

/** Something the reader tolerated or defaulted; names the VMX line when there is one. */
export const VmxWarning = z.object({
  code: z.string(),
  message: z.string(),
  line: z.number().int().positive().nullable(),
});
export type VmxWarning = z.infer<typeof VmxWarning>;

export function warning(code: string, message: string, line: number | null = null): VmxWarning {
  return { code, message, line };
}
