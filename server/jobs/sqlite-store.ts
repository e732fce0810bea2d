import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { FerryErrorData } from "../errors";
import type { PipelineEvent, ResultFile } from "../pipeline/events";
import { jobBus } from "./bus";
import { JobOptions, type Host, type HostBeat, type Job, type JobOptionsInput, type JobState, type StoredEvent } from "./job";
import { INTERRUPTED_ERROR, toHost, toJob, type HostRow, type JobRow } from "./rows";
import type { Claimant, JobStore, Limits } from "./store";

/**
 * The job store in SQLite (WAL), one file under the data folder: one
 * conversion host (several worker processes on it share the file). The
 * methods are async for the contract's sake; each is one synchronous
 * better-sqlite3 call, so the async wrapper costs no round trip.
 */
export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;
  /** Wake-ups in this process; a subscriber in another process polls. */
  private readonly bus: EventEmitter = jobBus();

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
      CREATE TABLE IF NOT EXISTS hosts (
        name TEXT PRIMARY KEY, pid INTEGER NOT NULL, version TEXT NOT NULL, accelerator TEXT NOT NULL,
        overlay_dir TEXT NOT NULL, overlay_free_bytes INTEGER, concurrency INTEGER NOT NULL, jobs_running INTEGER NOT NULL,
        lease_ms INTEGER NOT NULL, started_at INTEGER NOT NULL, last_heartbeat INTEGER NOT NULL, stopped INTEGER NOT NULL DEFAULT 0
      );
    `);
    // Stores made by earlier versions lack newer columns.
    const columns = new Set((this.db.prepare("PRAGMA table_info(jobs)").all() as { name: string }[]).map((c) => c.name));
    for (const [name, type] of [
      ["planned_outputs", "TEXT"],
      ["host", "TEXT"],
      ["target_host", "TEXT"],
      ["lease_until", "INTEGER"],
      ["attempt", "INTEGER NOT NULL DEFAULT 1"],
    ]) {
      if (!columns.has(name!)) this.db.exec(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`);
    }
  }

  /** Prepared once per statement: preparing costs more than running these small queries. */
  private readonly statements = new Map<string, Database.Statement>();
  private st(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private getSync(id: string): Job | null {
    const r = this.st("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  async create(input: { share: string; relPath: string; options: JobOptionsInput; copyOnly?: boolean; retryOf?: string | null; attempt?: number }): Promise<Job> {
    const options = JobOptions.parse(input.options);
    const copyOnly = input.copyOnly ?? options.copyOnly;
    const id = randomUUID();
    this.db
      .prepare("INSERT INTO jobs (id, share, rel_path, state, options, copy_only, created_at, retry_of, target_host, attempt) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)")
      .run(id, input.share, input.relPath, JSON.stringify(options), copyOnly ? 1 : 0, Date.now(), input.retryOf ?? null, options.host ?? null, input.attempt ?? 1);
    return this.getSync(id)!;
  }

  async get(id: string): Promise<Job | null> {
    return this.getSync(id);
  }

  async list(filter: { states?: JobState[]; share?: string; limit?: number } = {}): Promise<Job[]> {
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
    return (this.st(sql).all(...args, filter.limit ?? 500) as JobRow[]).map(toJob);
  }

  async activeFor(share: string, relPath: string): Promise<Job | null> {
    const r = this.st("SELECT * FROM jobs WHERE share = ? AND rel_path = ? AND state IN ('queued','running') LIMIT 1").get(share, relPath) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  async claimNext(limits: Limits, by: Claimant): Promise<Job | null> {
    const claim = this.db.transaction(() => {
      const count = (sql: string, ...args: unknown[]) => (this.st(sql).get(...args) as { n: number }).n;
      if (limits.global !== null && count("SELECT COUNT(*) n FROM jobs WHERE state = 'running'") >= limits.global) return null;
      if (count("SELECT COUNT(*) n FROM jobs WHERE state = 'running' AND host = ?", by.host) >= limits.perHost) return null;
      const r = this.db
        .prepare(
          `SELECT id FROM jobs q WHERE state = 'queued' AND (target_host IS NULL OR target_host = ?)
             AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.share = q.share) < ?
           ORDER BY created_at, rowid LIMIT 1`,
        )
        .get(by.host, limits.perShare) as { id: string } | undefined;
      if (!r) return null;
      const now = Date.now();
      this.st("UPDATE jobs SET state = 'running', started_at = ?, worker_pid = ?, host = ?, lease_until = ? WHERE id = ?").run(now, by.pid, by.host, now + by.leaseMs, r.id);
      return r.id;
    });
    const id = claim.immediate();
    return id ? this.getSync(id) : null;
  }

  async renewLeases(by: Claimant): Promise<string[]> {
    const tx = this.db.transaction(() => {
      this.st("UPDATE jobs SET lease_until = ? WHERE state = 'running' AND host = ? AND worker_pid = ?").run(Date.now() + by.leaseMs, by.host, by.pid);
      return (this.st("SELECT id FROM jobs WHERE state = 'running' AND host = ? AND worker_pid = ?").all(by.host, by.pid) as { id: string }[]).map((r) => r.id);
    });
    return tx.immediate();
  }

  async expireLeases(): Promise<Job[]> {
    const tx = this.db.transaction(() => {
      const now = Date.now();
      const ids = (this.st("SELECT id FROM jobs WHERE state = 'running' AND lease_until IS NOT NULL AND lease_until < ?").all(now) as { id: string }[]).map((r) => r.id);
      const mark = this.st("UPDATE jobs SET state = 'interrupted', finished_at = ?, error = ?, outputs = '[]' WHERE id = ? AND state = 'running'");
      for (const id of ids) mark.run(now, JSON.stringify(INTERRUPTED_ERROR), id);
      return ids.map((id) => this.getSync(id)!);
    });
    return tx.immediate();
  }

  async markRunning(id: string, where: { outputDir: string; planName: string }): Promise<void> {
    this.st("UPDATE jobs SET output_dir = ?, plan_name = ? WHERE id = ?").run(where.outputDir, where.planName, id);
  }

  async setPlannedOutputs(id: string, paths: string[]): Promise<void> {
    this.st("UPDATE jobs SET planned_outputs = ? WHERE id = ?").run(JSON.stringify(paths), id);
  }

  async finish(id: string, state: "succeeded" | "failed" | "cancelled" | "interrupted", result: { error?: FerryErrorData | null; outputs?: ResultFile[] }): Promise<boolean> {
    return (
      this.db
        .prepare("UPDATE jobs SET state = ?, finished_at = ?, error = ?, outputs = ?, worker_pid = NULL, lease_until = NULL WHERE id = ? AND state = 'running'")
        .run(state, Date.now(), result.error ? JSON.stringify(result.error) : null, JSON.stringify(result.outputs ?? []), id).changes === 1
    );
  }

  async requestCancel(id: string): Promise<Job | null> {
    const tx = this.db.transaction(() => {
      const job = this.getSync(id);
      if (!job) return null;
      if (job.state === "queued") {
        this.st("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'").run(Date.now(), id);
      } else if (job.state === "running") {
        this.st("UPDATE jobs SET cancel_requested = 1 WHERE id = ?").run(id);
      }
      return this.getSync(id);
    });
    const job = tx.immediate();
    if (job) this.bus.emit("event", id, 0);
    return job;
  }

  async cancelRequested(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return (this.st(`SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN (${ids.map(() => "?").join(",")})`).all(...ids) as { id: string }[]).map((r) => r.id);
  }

  async running(): Promise<{ job: Job; host: string | null; workerPid: number | null }[]> {
    return (this.st("SELECT * FROM jobs WHERE state = 'running'").all() as JobRow[]).map((r) => ({ job: toJob(r), host: r.host, workerPid: r.worker_pid }));
  }

  async appendEvent(id: string, event: PipelineEvent): Promise<number> {
    const tx = this.db.transaction(() => {
      const r = this.st("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM events WHERE job_id = ?").get(id) as { seq: number };
      this.st("INSERT INTO events (job_id, seq, event) VALUES (?, ?, ?)").run(id, r.seq, JSON.stringify(event));
      return r.seq;
    });
    const seq = tx.immediate();
    this.bus.emit("event", id, seq);
    return seq;
  }

  async events(id: string, afterSeq = 0, limit = 10_000): Promise<StoredEvent[]> {
    return (this.st("SELECT seq, event FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(id, afterSeq, limit) as { seq: number; event: string }[]).map((r) => ({
      seq: r.seq,
      event: JSON.parse(r.event) as PipelineEvent,
    }));
  }

  onEvent(listener: (jobId: string, seq: number) => void): () => void {
    this.bus.on("event", listener);
    return () => this.bus.off("event", listener);
  }

  async heartbeat(b: HostBeat): Promise<void> {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO hosts (name, pid, version, accelerator, overlay_dir, overlay_free_bytes, concurrency, jobs_running, lease_ms, started_at, last_heartbeat, stopped)
         VALUES (@name, @pid, @version, @accelerator, @overlayDir, @overlayFreeBytes, @concurrency, @jobsRunning, @leaseMs, @now, @now, 0)
         ON CONFLICT(name) DO UPDATE SET started_at = CASE WHEN hosts.pid = excluded.pid AND hosts.stopped = 0 THEN hosts.started_at ELSE excluded.started_at END,
           pid = excluded.pid, version = excluded.version, accelerator = excluded.accelerator, overlay_dir = excluded.overlay_dir,
           overlay_free_bytes = excluded.overlay_free_bytes, concurrency = excluded.concurrency, jobs_running = excluded.jobs_running,
           lease_ms = excluded.lease_ms, last_heartbeat = excluded.last_heartbeat, stopped = 0`,
      )
      .run({ ...b, now });
  }

  async hostStopped(name: string): Promise<void> {
    this.st("UPDATE hosts SET stopped = 1, jobs_running = 0 WHERE name = ?").run(name);
  }

  async hosts(): Promise<Host[]> {
    const now = Date.now();
    return (this.st("SELECT * FROM hosts ORDER BY name").all() as HostRow[]).map((r) => toHost(r, now));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
