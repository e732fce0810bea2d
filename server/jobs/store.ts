import type { FerryErrorData } from "../errors";
import type { PipelineEvent, ResultFile } from "../pipeline/events";
import type { Job, JobOptionsInput, JobState, StoredEvent } from "./job";

/**
 * Where jobs live. Small on purpose, so a server database can replace
 * SQLite without touching the worker or the API.
 */
export interface JobStore {
  create(input: { share: string; relPath: string; options: JobOptionsInput; copyOnly?: boolean; retryOf?: string | null }): Job;
  get(id: string): Job | null;
  list(filter?: { states?: JobState[]; share?: string; limit?: number }): Job[];
  /** The active (queued or running) job for this guest, if any. */
  activeFor(share: string, relPath: string): Job | null;
  /** Atomically take the oldest queued job whose share is under its limit. */
  claimNext(limits: { global: number; perShare: number }, workerPid: number): Job | null;
  markRunning(id: string, where: { outputDir: string; planName: string }): void;
  /** Once the output is set up (no clash): the files the run will end with. */
  setPlannedOutputs(id: string, paths: string[]): void;
  finish(id: string, state: Extract<JobState, "succeeded" | "failed" | "cancelled" | "interrupted">, result: { error?: FerryErrorData | null; outputs?: ResultFile[] }): void;
  /** Cancel: a queued job ends at once; a running one is flagged for its worker. */
  requestCancel(id: string): Job | null;
  cancelRequested(id: string): boolean;
  /** Running jobs and the worker process that claimed them. */
  running(): { job: Job; workerPid: number | null }[];
  appendEvent(id: string, event: PipelineEvent): number;
  events(id: string, afterSeq?: number, limit?: number): StoredEvent[];
  close(): void;
}
