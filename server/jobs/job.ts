import { z } from "zod";
import { FerryErrorData } from "../errors";
import { PipelineEvent, ResultFileSchema } from "../pipeline/events";
import { Allocation, OutputMode, TargetFormat, type LibvirtTarget, type PlanOptions } from "../plan/target-plan";

/** A job: one guest's conversion with its options, and everything that happened to it. */

export const JobState = z.enum(["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]);
export type JobState = z.infer<typeof JobState>;
export const ACTIVE: JobState[] = ["queued", "running"];

/** A conversion host's name, as `ferry worker --host` gives it (the machine's host name by default). */
export const HostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");

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
  /** The conversion host to run on; any host when absent. */
  host: HostName.optional(),
  /** Run an interrupted job again (its host stopped heartbeating, or restarted), at most this many times. */
  autoRetry: z.number().int().min(0).max(5).default(0),
  /** A libvirt target: start the guest once it is defined. */
  start: z.boolean().default(false),
});
export type JobOptions = z.infer<typeof JobOptions>;
export type JobOptionsInput = z.input<typeof JobOptions>;

/** A job's options as planTarget takes them, for the destination its target resolves to (server/output/targets.ts). */
export function planOptionsFor(options: JobOptions, destination: { output: OutputMode; outputDir: string; libvirt?: LibvirtTarget }, copyOnly: boolean, virtioWin: PlanOptions["virtioWin"] = null): PlanOptions {
  const { rateLimitMiBps, useVirtioWin, ...rest } = options;
  return { ...rest, ...destination, copyOnly, rateLimit: rateLimitMiBps ? rateLimitMiBps * 1024 * 1024 : null, virtioWin: useVirtioWin ? virtioWin : null };
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
  /** The conversion host that runs (or ran) it; null while queued. */
  host: z.string().nullable(),
  /** 1 for a new job; an automatic retry counts on from the job it retries. */
  attempt: z.number().int().min(1),
});
export type Job = z.infer<typeof Job>;

export const StoredEvent = z.object({ seq: z.number().int().positive(), event: PipelineEvent });
export type StoredEvent = z.infer<typeof StoredEvent>;

/** A conversion host as its worker last reported it. */
export const HostState = z.enum(["online", "lost", "stopped"]);
export const Host = z.object({
  name: z.string(),
  /** online: heartbeating; lost: no heartbeat for longer than its lease (its jobs were interrupted); stopped: shut down cleanly. */
  state: HostState,
  lastHeartbeat: z.number(),
  /** How long ago, on the store's clock (PostgreSQL's, for every host alike). */
  heartbeatAgeMs: z.number(),
  startedAt: z.number(),
  pid: z.number().int(),
  version: z.string(),
  /** kvm or tcg, with the reason. */
  accelerator: z.string(),
  overlayDir: z.string(),
  overlayFreeBytes: z.number().nullable(),
  concurrency: z.number().int(),
  jobsRunning: z.number().int(),
  leaseMs: z.number().int(),
});
export type Host = z.infer<typeof Host>;

/** What a worker reports at each heartbeat. */
export type HostBeat = Omit<Host, "state" | "lastHeartbeat" | "heartbeatAgeMs" | "startedAt">;
