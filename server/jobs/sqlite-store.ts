import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { FerryErrorData } from "../errors";
import type { PipelineEvent, ResultFile } from "../pipeline/events";
import { Job, JobOptions, type JobOptionsInput, type JobState, type StoredEvent } from "./job";
import type { JobStore } from "./store";

interface Row {
  id: string;
  share: string;
  rel_path: string;
  state: string;
  options: string;
  copy_only: number;
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
}

function toJob(r: Row): Job {
  return Job.parse({
    id: r.id,
    share: r.share,
    relPath: r.rel_path,
    state: r.state,
    options: JobOptions.parse(JSON.parse(r.options)),
    copyOnly: r.copy_only === 1,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error ? JSON.parse(r.error) : null,
    outputs: r.outputs ? JSON.parse(r.outputs) : [],
    retryOf: r.retry_of,
    outputDir: r.output_dir,
    planName: r.plan_name,
    plannedOutputs: r.planned_outputs ? JSON.parse(r.planned_outputs) : [],
  });
}

/** The job store in SQLite (WAL), one file under the data folder. */
export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, share TEXT NOT NULL, rel_path TEXT NOT NULL, state TEXT NOT NULL,
        options TEXT NOT NULL, copy_only INTEGER NOT NULL, created_at INTEGER NOT NULL,
        started_at INTEGER, finished_at INTEGER, error TEXT, outputs TEXT, retry_of TEXT,
        output_dir TEXT, plan_name TEXT, planned_outputs TEXT, worker_pid INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_at);
      CREATE TABLE IF NOT EXISTS events (
        job_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (job_id, seq)
      ) WITHOUT ROWID;
    `);
    // Stores made by earlier versions lack newer columns.
    const columns = new Set((this.db.prepare("PRAGMA table_info(jobs)").all() as { name: string }[]).map((c) => c.name));
    if (!columns.has("planned_outputs")) this.db.exec("ALTER TABLE jobs ADD COLUMN planned_outputs TEXT");
  }

  create(input: { share: string; relPath: string; options: JobOptionsInput; copyOnly?: boolean; retryOf?: string | null }): Job {
    const options = JobOptions.parse(input.options);
    const copyOnly = input.copyOnly ?? options.copyOnly;
    const id = randomUUID();
    this.db
      .prepare("INSERT INTO jobs (id, share, rel_path, state, options, copy_only, created_at, retry_of) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)")
      .run(id, input.share, input.relPath, JSON.stringify(options), copyOnly ? 1 : 0, Date.now(), input.retryOf ?? null);
    return this.get(id)!;
  }

  get(id: string): Job | null {
    const r = this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(id) as Row | undefined;
    return r ? toJob(r) : null;
  }

  list(filter: { states?: JobState[]; share?: string; limit?: number } = {}): Job[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.states?.length) {
      where.push(`state IN (${filter.states.map(() => "?").join(",")})`);
      args.push(...filter.states);
    }
    if (filter.share) {
      where.push("share = ?");
      args.push(filter.share);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 500) as Row[]).map(toJob);
  }

  activeFor(share: string, relPath: string): Job | null {
    const r = this.db.prepare("SELECT * FROM jobs WHERE share = ? AND rel_path = ? AND state IN ('queued','running') LIMIT 1").get(share, relPath) as Row | undefined;
    return r ? toJob(r) : null;
  }

  claimNext(limits: { global: number; perShare: number }, workerPid: number): Job | null {
    const claim = this.db.transaction(() => {
      const running = (this.db.prepare("SELECT COUNT(*) n FROM jobs WHERE state = 'running'").get() as { n: number }).n;
      if (running >= limits.global) return null;
      const r = this.db
        .prepare(
          `SELECT * FROM jobs q WHERE state = 'queued'
             AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.share = q.share) < ?
           ORDER BY created_at, rowid LIMIT 1`,
        )
        .get(limits.perShare) as Row | undefined;
      if (!r) return null;
      this.db.prepare("UPDATE jobs SET state = 'running', started_at = ?, worker_pid = ? WHERE id = ?").run(Date.now(), workerPid, r.id);
      return r.id;
    });
    const id = claim.immediate();
    return id ? this.get(id) : null;
  }

  markRunning(id: string, where: { outputDir: string; planName: string }): void {
    this.db.prepare("UPDATE jobs SET output_dir = ?, plan_name = ? WHERE id = ?").run(where.outputDir, where.planName, id);
  }

  setPlannedOutputs(id: string, paths: string[]): void {
    this.db.prepare("UPDATE jobs SET planned_outputs = ? WHERE id = ?").run(JSON.stringify(paths), id);
  }

  finish(id: string, state: "succeeded" | "failed" | "cancelled" | "interrupted", result: { error?: FerryErrorData | null; outputs?: ResultFile[] }): void {
    this.db
      .prepare("UPDATE jobs SET state = ?, finished_at = ?, error = ?, outputs = ?, worker_pid = NULL WHERE id = ?")
      .run(state, Date.now(), result.error ? JSON.stringify(result.error) : null, JSON.stringify(result.outputs ?? []), id);
  }

  requestCancel(id: string): Job | null {
    const tx = this.db.transaction(() => {
      const job = this.get(id);
      if (!job) return null;
      if (job.state === "queued") {
        this.db.prepare("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'").run(Date.now(), id);
      } else if (job.state === "running") {
        this.db.prepare("UPDATE jobs SET cancel_requested = 1 WHERE id = ?").run(id);
      }
      return this.get(id);
    });
    return tx.immediate();
  }

  cancelRequested(id: string): boolean {
    const r = this.db.prepare("SELECT cancel_requested c FROM jobs WHERE id = ?").get(id) as { c: number } | undefined;
    return r?.c === 1;
  }

  running(): { job: Job; workerPid: number | null }[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE state = 'running'").all() as Row[]).map((r) => ({ job: toJob(r), workerPid: r.worker_pid }));
  }

  appendEvent(id: string, event: PipelineEvent): number {
    const tx = this.db.transaction(() => {
      const r = this.db.prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM events WHERE job_id = ?").get(id) as { seq: number };
      this.db.prepare("INSERT INTO events (job_id, seq, event) VALUES (?, ?, ?)").run(id, r.seq, JSON.stringify(event));
      return r.seq;
    });
    return tx.immediate();
  }

  events(id: string, afterSeq = 0, limit = 10_000): StoredEvent[] {
    return (this.db.prepare("SELECT seq, event FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(id, afterSeq, limit) as { seq: number; event: string }[]).map((r) => ({
      seq: r.seq,
      event: JSON.parse(r.event) as PipelineEvent,
    }));
  }

  close(): void {
    this.db.close();
  }
}
