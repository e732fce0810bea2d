import { z } from "zod";
import { FerryErrorData } from "../errors";
import { PipelineEvent, ResultFileSchema } from "../pipeline/events";
import { Allocation, OutputMode, TargetFormat, type PlanOptions } from "../plan/target-plan";

/** A job: one guest's conversion with its options, and everything that happened to it. */

export const JobState = z.enum(["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]);
export type JobState = z.infer<typeof JobState>;
export const ACTIVE: JobState[] = ["queued", "running"];

export const JobOptions = z.object({
  output: OutputMode.default("local"),
  /** The configured output folder's name (the first one by default). */
  target: z.string().optional(),
  format: TargetFormat.default("raw"),
  allocation: Allocation.default("sparse"),
  /** The guest's name on KVM; from its displayName when absent. */
  name: z.string().max(63).optional(),
  networks: z.array(z.string().max(200)).max(64).default([]),
  bridges: z.array(z.string().max(200)).max(64).default([]),
  macs: z.array(z.string().max(200)).max(64).default([]),
  parallel: z.number().int().min(1).max(16).default(1),
  overwrite: z.boolean().default(false),
  excludeDisks: z.array(z.string().max(32)).max(256).default([]),
  /** Copy the disks without converting the guest (SATA disks, e1000e NICs, drivers unchanged). */
  copyOnly: z.boolean().default(false),
  /** Boot the result before finishing; default: on when converting, off for copy-only. */
  bootCheck: z.boolean().optional(),
  /** Windows guests: install the configured virtio-win drivers (else SATA and e1000e). */
  useVirtioWin: z.boolean().default(true),
  /** Bandwidth limit per disk copy, in MiB/s, to spare a busy NAS. */
  rateLimitMiBps: z.number().int().min(1).max(100_000).optional(),
});
export type JobOptions = z.infer<typeof JobOptions>;
export type JobOptionsInput = z.input<typeof JobOptions>;

/** A job's options as planTarget takes them, for the output folder they resolve to. */
export function planOptionsFor(options: JobOptions, outputDir: string, copyOnly: boolean, virtioWin: PlanOptions["virtioWin"] = null): PlanOptions {
  const { rateLimitMiBps, useVirtioWin, ...rest } = options;
  return { ...rest, outputDir, copyOnly, rateLimit: rateLimitMiBps ? rateLimitMiBps * 1024 * 1024 : null, virtioWin: useVirtioWin ? virtioWin : null };
}

export const Job = z.object({
  id: z.string(),
  share: z.string(),
  /** The .vmx, relative to the share. */
  relPath: z.string(),
  state: JobState,
  options: JobOptions,
  /** The guest is copied, not converted (options.copyOnly, or forced by the caller). */
  copyOnly: z.boolean(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  error: FerryErrorData.nullable(),
  outputs: z.array(ResultFileSchema),
  /** The job this one retries. */
  retryOf: z.string().nullable(),
  /** Where the run writes, once it started (for cleanup after a crash). */
  outputDir: z.string().nullable(),
  planName: z.string().nullable(),
  /** The files the run will end with, removed if it is interrupted. */
  plannedOutputs: z.array(z.string()),
});
export type Job = z.infer<typeof Job>;

export const StoredEvent = z.object({ seq: z.number().int().positive(), event: PipelineEvent });
export type StoredEvent = z.infer<typeof StoredEvent>;
