import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import pg from "pg";
import { NOW_MS, transaction, type PgDatabase } from "../db/pg";
import type { FerryErrorData } from "../errors";
import type { PipelineEvent, ResultFile } from "../pipeline/events";
import { JobOptions, type Host, type HostBeat, type Job, type JobOptionsInput, type JobState, type StoredEvent } from "./job";
import { INTERRUPTED_ERROR, toHost, toJob, type HostRow, type JobRow } from "./rows";
import type { Claimant, JobStore, Limits } from "./store";

const CHANNEL = "ferry_events";
/** Serialises claims, so the running counts the limits compare are exact (a row lock cannot bound a count). */
const CLAIM_LOCK = 7346001;

/**
 * The job store in PostgreSQL, shared by every conversion host. A claim is
 * one short transaction: a transaction-scoped advisory lock (the limits are
 * counts over all hosts), then the oldest eligible job FOR UPDATE SKIP
 * LOCKED. Events carry a per-job sequence from the job's row and a NOTIFY
 * in the same statement, delivered to listeners on every host at commit.
 */
export class PgJobStore implements JobStore {
  private readonly wakeups = new EventEmitter();
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly db: PgDatabase) {
    this.wakeups.setMaxListeners(0);
  }

  private async q<R extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<R[]> {
    await this.db.ready;
    return (await this.db.pool.query<R>(sql, args)).rows;
  }

  async create(input: { share: string; relPath: string; options: JobOptionsInput; copyOnly?: boolean; retryOf?: string | null; attempt?: number }): Promise<Job> {
    const options = JobOptions.parse(input.options);
    const copyOnly = input.copyOnly ?? options.copyOnly;
    const [r] = await this.q<JobRow>(
      `INSERT INTO jobs (id, share, rel_path, state, options, copy_only, created_at, retry_of, target_host, attempt)
       VALUES ($1, $2, $3, 'queued', $4, $5, ${NOW_MS}, $6, $7, $8) RETURNING *`,
      [randomUUID(), input.share, input.relPath, JSON.stringify(options), copyOnly, input.retryOf ?? null, options.host ?? null, input.attempt ?? 1],
    );
    return toJob(r!);
  }

  async get(id: string): Promise<Job | null> {
    const [r] = await this.q<JobRow>("SELECT * FROM jobs WHERE id = $1", [id]);
    return r ? toJob(r) : null;
  }

  async list(filter: { states?: JobState[]; share?: string; limit?: number } = {}): Promise<Job[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.states?.length) {
      args.push(filter.states);
      where.push(`state = ANY($${args.length})`);
    }
    if (filter.share) {
      args.push(filter.share);
      where.push(`share = $${args.length}`);
    }
    args.push(filter.limit ?? 500);
    return (await this.q<JobRow>(`SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, n DESC LIMIT $${args.length}`, args)).map(toJob);
  }

  async activeFor(share: string, relPath: string): Promise<Job | null> {
    const [r] = await this.q<JobRow>("SELECT * FROM jobs WHERE share = $1 AND rel_path = $2 AND state IN ('queued','running') LIMIT 1", [share, relPath]);
    return r ? toJob(r) : null;
  }

  async claimNext(limits: Limits, by: Claimant): Promise<Job | null> {
    return transaction(this.db, async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [CLAIM_LOCK]);
      const [n] = (await c.query<{ n_all: number; mine: number }>("SELECT count(*) AS n_all, count(*) FILTER (WHERE host = $1) AS mine FROM jobs WHERE state = 'running'", [by.host])).rows;
      if ((limits.global !== null && n!.n_all >= limits.global) || n!.mine >= limits.perHost) return null;
      const [pick] = (
        await c.query<{ id: string }>(
          // Running counts per share once, not once per queued row.
          `WITH busy AS (SELECT share, count(*) AS running FROM jobs WHERE state = 'running' GROUP BY share)
           SELECT q.id FROM jobs q LEFT JOIN busy b ON b.share = q.share
           WHERE q.state = 'queued' AND (q.target_host IS NULL OR q.target_host = $1) AND COALESCE(b.running, 0) < $2
           ORDER BY q.created_at, q.n LIMIT 1 FOR UPDATE OF q SKIP LOCKED`,
          [by.host, limits.perShare],
        )
      ).rows;
      if (!pick) return null;
      const [r] = (
        await c.query<JobRow>(
          `UPDATE jobs SET state = 'running', started_at = ${NOW_MS}, worker_pid = $2, host = $3, lease_until = ${NOW_MS} + $4
           WHERE id = $1 AND state = 'queued' RETURNING *`,
          [pick.id, by.pid, by.host, by.leaseMs],
        )
      ).rows;
      return r ? toJob(r) : null;
    });
  }

  async renewLeases(by: Claimant): Promise<string[]> {
    // Rows locked by a claim or a cancel wait a moment; the lease is long enough for that.
    const rows = await this.q<{ id: string }>(
      `UPDATE jobs SET lease_until = ${NOW_MS} + $3 WHERE state = 'running' AND host = $1 AND worker_pid = $2 RETURNING id`,
      [by.host, by.pid, by.leaseMs],
    );
    return rows.map((r) => r.id);
  }

  async expireLeases(): Promise<Job[]> {
    const rows = await this.q<JobRow>(
      `UPDATE jobs SET state = 'interrupted', finished_at = ${NOW_MS}, error = $1, outputs = '[]'
       WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < ${NOW_MS} FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [JSON.stringify(INTERRUPTED_ERROR)],
    );
    return rows.map(toJob);
  }

  async markRunning(id: string, where: { outputDir: string; planName: string }): Promise<void> {
    await this.q("UPDATE jobs SET output_dir = $2, plan_name = $3 WHERE id = $1", [id, where.outputDir, where.planName]);
  }

  async setPlannedOutputs(id: string, paths: string[]): Promise<void> {
    await this.q("UPDATE jobs SET planned_outputs = $2 WHERE id = $1", [id, JSON.stringify(paths)]);
  }

  async finish(id: string, state: "succeeded" | "failed" | "cancelled" | "interrupted", result: { error?: FerryErrorData | null; outputs?: ResultFile[] }): Promise<boolean> {
    const rows = await this.q(
      `UPDATE jobs SET state = $2, finished_at = ${NOW_MS}, error = $3, outputs = $4, worker_pid = NULL, lease_until = NULL WHERE id = $1 AND state = 'running' RETURNING id`,
      [id, state, result.error ? JSON.stringify(result.error) : null, JSON.stringify(result.outputs ?? [])],
    );
    return rows.length === 1;
  }

  async requestCancel(id: string): Promise<Job | null> {
    // The NOTIFY wakes the worker running it at once, on whichever host (it also polls).
    const [r] = await this.q<JobRow>(
      `WITH u AS (
         UPDATE jobs SET state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
           finished_at = CASE WHEN state = 'queued' THEN ${NOW_MS} ELSE finished_at END,
           cancel_requested = cancel_requested OR state = 'running'
         WHERE id = $1 RETURNING *)
       SELECT u.*, pg_notify('${CHANNEL}', u.id || ' 0') FROM u`,
      [id],
    );
    return r ? toJob(r) : null;
  }

  async cancelRequested(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.q<{ id: string }>("SELECT id FROM jobs WHERE cancel_requested AND id = ANY($1)", [ids])).map((r) => r.id);
  }

  async running(): Promise<{ job: Job; host: string | null; workerPid: number | null }[]> {
    return (await this.q<JobRow>("SELECT * FROM jobs WHERE state = 'running'")).map((r) => ({ job: toJob(r), host: r.host, workerPid: r.worker_pid }));
  }

  async appendEvent(id: string, event: PipelineEvent): Promise<number> {
    const [r] = await this.q<{ seq: number }>(
      `WITH s AS (UPDATE jobs SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq),
            i AS (INSERT INTO events (job_id, seq, event) SELECT $1, last_seq, $2 FROM s RETURNING seq)
       SELECT seq, pg_notify('${CHANNEL}', $1 || ' ' || seq) FROM i`,
      [id, JSON.stringify(event)],
    );
    if (!r) throw new Error(`no job ${id} to append an event to`);
    return r.seq;
  }

  async events(id: string, afterSeq = 0, limit = 10_000): Promise<StoredEvent[]> {
    return (await this.q<{ seq: number; event: string }>("SELECT seq, event FROM events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", [id, afterSeq, limit])).map((r) => ({
      seq: r.seq,
      event: JSON.parse(r.event) as PipelineEvent,
    }));
  }

  onEvent(listener: (jobId: string, seq: number) => void): () => void {
    this.wakeups.on("event", listener);
    void this.listen();
    return () => this.wakeups.off("event", listener);
  }

  /** One LISTEN connection per process, opened with the first subscriber, reopened when it drops. */
  private listen(): Promise<void> {
    if (this.listening || this.closed) return this.listening ?? Promise.resolve();
    this.listening = (async () => {
      try {
        await this.db.ready;
        const c = new pg.Client({ connectionString: this.db.url });
        c.on("notification", (m) => {
          const [jobId, seq] = (m.payload ?? "").split(" ");
          if (jobId && seq) this.wakeups.emit("event", jobId, Number(seq));
        });
        const dropped = () => {
          if (this.listener !== c) return;
          this.listener = null;
          this.listening = null;
          c.end().catch(() => undefined);
          // Subscribers poll meanwhile; listen again while any remain.
          if (!this.closed && this.wakeups.listenerCount("event") > 0) setTimeout(() => void this.listen(), 500).unref();
        };
        c.on("error", dropped);
        c.on("end", dropped);
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
        this.listener = c;
        if (this.closed) await c.end();
      } catch {
        this.listening = null;
        if (!this.closed) setTimeout(() => void this.listen(), 1000).unref();
      }
    })();
    return this.listening;
  }

  /** Resolves once wake-ups flow (the LISTEN is in place). */
  async listeningNow(): Promise<void> {
    await this.listen();
  }

  async heartbeat(b: HostBeat): Promise<void> {
    await this.q(
      `INSERT INTO hosts (name, pid, version, accelerator, overlay_dir, overlay_free_bytes, concurrency, jobs_running, lease_ms, started_at, last_heartbeat, stopped)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${NOW_MS}, ${NOW_MS}, false)
       ON CONFLICT (name) DO UPDATE SET started_at = CASE WHEN hosts.pid = excluded.pid AND NOT hosts.stopped THEN hosts.started_at ELSE excluded.started_at END,
         pid = excluded.pid, version = excluded.version, accelerator = excluded.accelerator, overlay_dir = excluded.overlay_dir,
         overlay_free_bytes = excluded.overlay_free_bytes, concurrency = excluded.concurrency, jobs_running = excluded.jobs_running,
         lease_ms = excluded.lease_ms, last_heartbeat = excluded.last_heartbeat, stopped = false`,
      [b.name, b.pid, b.version, b.accelerator, b.overlayDir, b.overlayFreeBytes, b.concurrency, b.jobsRunning, b.leaseMs],
    );
  }

  async hostStopped(name: string): Promise<void> {
    await this.q("UPDATE hosts SET stopped = true, jobs_running = 0 WHERE name = $1", [name]);
  }

  async hosts(): Promise<Host[]> {
    const [{ now }] = (await this.q<{ now: number }>(`SELECT ${NOW_MS} AS now`)) as [{ now: number }];
    return (await this.q<HostRow>("SELECT * FROM hosts ORDER BY name")).map((r) => toHost(r, now));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeups.removeAllListeners();
    await this.listening?.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    this.listener = null;
    await this.db.close();
  }
}
