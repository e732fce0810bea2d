import { Host, Job, JobOptions } from "./job";

/**
 * The stores' rows, as both SQLite and PostgreSQL hold them (JSON as text,
 * times as milliseconds since the epoch), and their parsing into records.
 */
export interface JobRow {
  id: string;
  share: string;
  rel_path: string;
  state: string;
  options: string;
  copy_only: number | boolean;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  outputs: string | null;
  retry_of: string | null;
  output_dir: string | null;
  plan_name: string | null;
  planned_outputs: string | null;
  worker_pid: number | null;
  host: string | null;
  attempt: number | null;
}

export function toJob(r: JobRow): Job {
  return Job.parse({
    id: r.id,
    share: r.share,
    relPath: r.rel_path,
    state: r.state,
    options: JobOptions.parse(JSON.parse(r.options)),
    copyOnly: r.copy_only === 1 || r.copy_only === true,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error ? JSON.parse(r.error) : null,
    outputs: r.outputs ? JSON.parse(r.outputs) : [],
    retryOf: r.retry_of,
    outputDir: r.output_dir,
    planName: r.plan_name,
    plannedOutputs: r.planned_outputs ? JSON.parse(r.planned_outputs) : [],
    host: r.host,
    attempt: r.attempt ?? 1,
  });
}

export interface HostRow {
  name: string;
  pid: number;
  version: string;
  accelerator: string;
  overlay_dir: string;
  overlay_free_bytes: number | null;
  concurrency: number;
  jobs_running: number;
  lease_ms: number;
  started_at: number;
  last_heartbeat: number;
  stopped: number | boolean;
}

/** A host is lost once its last heartbeat is older than its lease: by then its jobs' leases ran out too. */
export function toHost(r: HostRow, now: number): Host {
  const stopped = r.stopped === 1 || r.stopped === true;
  return Host.parse({
    name: r.name,
    state: stopped ? "stopped" : now - r.last_heartbeat > r.lease_ms ? "lost" : "online",
    lastHeartbeat: r.last_heartbeat,
    heartbeatAgeMs: Math.max(0, now - r.last_heartbeat),
    startedAt: r.started_at,
    pid: r.pid,
    version: r.version,
    accelerator: r.accelerator,
    overlayDir: r.overlay_dir,
    overlayFreeBytes: r.overlay_free_bytes,
    concurrency: r.concurrency,
    jobsRunning: r.jobs_running,
    leaseMs: r.lease_ms,
  });
}

export const INTERRUPTED_ERROR = { code: "job.interrupted", message: "the conversion host stopped while this job ran", file: null, line: null, hint: "retry the job" };
