import { z } from "zod";

/**
 * Records every layer shares (the VMX reader, the VMDK checks, the planner,
 * the converters, the API and the wizard), kept in one place as virt-v2v
 * keeps lib/types.ml.
 */

/** 1-based line numbers in the file a value came from. */
export const Lines = z.array(z.number().int().positive());
export type Lines = z.infer<typeof Lines>;

/** Something a reader tolerated or defaulted; names the line when there is one. */
export const Warning = z.object({
  code: z.string(),
  message: z.string(),
  line: z.number().int().positive().nullable(),
});
export type Warning = z.infer<typeof Warning>;

export function warning(code: string, message: string, line: number | null = null): Warning {
  return { code, message, line };
}

/** What an admin must know before converting: critical blocks the guest. */
export const Concern = z.object({
  /** Stable, lowercase, dotted: `vmx.tpm.present`. */
  id: z.string(),
  severity: z.enum(["critical", "warning", "info"]),
  message: z.string(),
  /** The device it is about (`scsi0:1`, `ethernet0`), or null for the whole guest. */
  device: z.string().nullable(),
  lines: Lines,
});
export type Concern = z.infer<typeof Concern>;
