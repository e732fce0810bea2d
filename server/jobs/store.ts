import type { FerryErrorData } from "../errors";
import type { PipelineEvent, ResultFile } from "../pipeline/events";
import type { Host, HostBeat, Job, JobOptionsInput, JobState, StoredEvent } from "./job";

/** Which worker asks: its host's name and process, and how long a claim holds without a renewal. */
export interface Claimant {
  host: string;
  pid: number;
  leaseMs: number;
}

/** Jobs running at once: across all hosts (null: no global bound), per share, on the asking host. */
export interface Limits {
  global: number | null;
  perShare: number;
  perHost: number;
}

/**
 * Where jobs, their events and the conversion hosts live: SQLite on one
 * host, PostgreSQL for several (chosen in ./open-store.ts). Asynchronous so
 * a server database fits; the SQLite store answers from synchronous calls.
 * The same contract suite (test/server/store-contract.test.ts) runs on both.
 */
export interface JobStore {
  create(input: { share: string; relPath: string; options: JobOptionsInput; copyOnly?: boolean; retryOf?: string | null; attempt?: number }): Promise<Job>;
  get(id: string): Promise<Job | null>;
  list(filter?: { states?: JobState[]; share?: string; limit?: number }): Promise<Job[]>;
  /** The active (queued or running) job for this guest, if any. */
  activeFor(share: string, relPath: string): Promise<Job | null>;
  /**
   * Atomically take the oldest queued job for this host (or for any host)
   * whose share, the host and the whole fleet are under their limits. Two
   * workers never get the same job.
   */
  claimNext(limits: Limits, by: Claimant): Promise<Job | null>;
  /** Extend the leases of the host's running jobs; returns the ids it still holds (a job it lost was interrupted). */
  renewLeases(by: Claimant): Promise<string[]>;
  /**
   * Running jobs whose lease ran out (their host stopped heartbeating):
   * each is marked interrupted here, and returned to exactly one caller,
   * which cleans up after it.
   */
  expireLeases(): Promise<Job[]>;
  markRunning(id: string, where: { outputDir: string; planName: string }): Promise<void>;
  /** Once the output is set up (no clash): the files the run will end with. */
  setPlannedOutputs(id: string, paths: string[]): Promise<void>;
  /** Ends a running job; false when it was no longer running (interrupted meanwhile: the verdict stands). */
  finish(id: string, state: Extract<JobState, "succeeded" | "failed" | "cancelled" | "interrupted">, result: { error?: FerryErrorData | null; outputs?: ResultFile[] }): Promise<boolean>;
  /** Cancel: a queued job ends at once; a running one is flagged for its worker, on whichever host. */
  requestCancel(id: string): Promise<Job | null>;
  /** Of these jobs, the ones a user asked to cancel. */
  cancelRequested(ids: string[]): Promise<string[]>;
  /** Running jobs, the host and worker process that claimed them. */
  running(): Promise<{ job: Job; host: string | null; workerPid: number | null }[]>;
  appendEvent(id: string, event: PipelineEvent): Promise<number>;
  events(id: string, afterSeq?: number, limit?: number): Promise<StoredEvent[]>;
  /**
   * Live wake-ups: "job X has event N", or N = 0: "a user asked to cancel
   * job X", from any host the store reaches (PostgreSQL LISTEN/NOTIFY;
   * in-process for SQLite). A hint only: the events and the job are read
   * from the store. Returns the unsubscribe.
   */
  onEvent(listener: (jobId: string, seq: number) => void): () => void;
  /** A worker's heartbeat: registers the host the first time. */
  heartbeat(beat: HostBeat): Promise<void>;
  /** A worker stopping cleanly. */
  hostStopped(name: string): Promise<void>;
  hosts(): Promise<Host[]>;
  close(): Promise<void>;
}
