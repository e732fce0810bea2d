import pg from "pg";
import { FerryError } from "../errors";

/**
 * One PostgreSQL database shared by every host: a connection pool, and the
 * schema brought up to date at start (numbered migrations, applied once, in
 * order, under an advisory lock so hosts starting together do not race).
 */

/** Milliseconds since the epoch on the database's clock: leases and heartbeats compare times from one clock, not each host's. */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const MIGRATIONS: string[] = [
  // 1: jobs, their events, conversion hosts; users, sessions, audit.
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY, n BIGINT GENERATED ALWAYS AS IDENTITY, share TEXT NOT NULL, rel_path TEXT NOT NULL, state TEXT NOT NULL,
     options TEXT NOT NULL, copy_only BOOLEAN NOT NULL, created_at BIGINT NOT NULL,
     started_at BIGINT, finished_at BIGINT, error TEXT, outputs TEXT, retry_of TEXT,
     output_dir TEXT, plan_name TEXT, planned_outputs TEXT, worker_pid INTEGER, cancel_requested BOOLEAN NOT NULL DEFAULT false,
     host TEXT, target_host TEXT, lease_until BIGINT, attempt INTEGER NOT NULL DEFAULT 1, last_seq INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX jobs_state ON jobs(state, created_at, n);
   CREATE INDEX jobs_guest ON jobs(share, rel_path) WHERE state IN ('queued', 'running');
   CREATE TABLE events (job_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (job_id, seq));
   CREATE TABLE hosts (
     name TEXT PRIMARY KEY, pid INTEGER NOT NULL, version TEXT NOT NULL, accelerator TEXT NOT NULL,
     overlay_dir TEXT NOT NULL, overlay_free_bytes BIGINT, concurrency INTEGER NOT NULL, jobs_running INTEGER NOT NULL,
     lease_ms INTEGER NOT NULL, started_at BIGINT NOT NULL, last_heartbeat BIGINT NOT NULL, stopped BOOLEAN NOT NULL DEFAULT false
   );
   CREATE TABLE users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at BIGINT NOT NULL, role TEXT NOT NULL DEFAULT 'admin');
   CREATE TABLE sessions (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
   CREATE INDEX sessions_user ON sessions(user_name);
   CREATE TABLE audit (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, user_name TEXT, address TEXT, action TEXT NOT NULL, detail TEXT NOT NULL);`,
  // 2: claims count running jobs per share and per host.
  `CREATE INDEX jobs_running_share ON jobs(share) WHERE state = 'running';
   CREATE INDEX jobs_running_host ON jobs(host) WHERE state = 'running';`,
];

/** BIGINT columns hold milliseconds and counts well inside 2^53: numbers, not strings. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

export interface PgDatabase {
  pool: pg.Pool;
  url: string;
  /** Resolves once the schema is current; every query waits for it. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Where to connect, for error messages: the URL without its password. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

export function openPg(url: string): PgDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 10, types, idleTimeoutMillis: 30_000 });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  const ready = migrate(pool).catch((e: Error) => {
    throw new FerryError({ code: "database.unreachable", message: `cannot use the PostgreSQL database ${redact(url)}: ${e.message}`, file: null, hint: "check FERRY_DATABASE_URL (or databaseUrl in the configuration file), that the server runs and that the user may create tables" });
  });
  // Callers see the error on their first query; an unobserved rejection must not end the process.
  ready.catch(() => undefined);
  let closed: Promise<void> | null = null;
  return { pool, url, ready, close: () => (closed ??= ready.catch(() => undefined).then(() => pool.end())) };
}

async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query("SELECT pg_advisory_lock(7346000)");
    try {
      await c.query("CREATE TABLE IF NOT EXISTS ferry_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      const done = new Set((await c.query<{ version: number }>("SELECT version FROM ferry_migrations")).rows.map((r) => r.version));
      for (const [i, sql] of MIGRATIONS.entries()) {
        const version = i + 1;
        if (done.has(version)) continue;
        await c.query("BEGIN");
        try {
          await c.query(sql);
          await c.query("INSERT INTO ferry_migrations (version) VALUES ($1)", [version]);
          await c.query("COMMIT");
        } catch (e) {
          await c.query("ROLLBACK");
          throw e;
        }
      }
    } finally {
      await c.query("SELECT pg_advisory_unlock(7346000)");
    }
  } finally {
    c.release();
  }
}

/** Run fn in one transaction on one connection. */
export async function transaction<T>(db: PgDatabase, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  await db.ready;
  const c = await db.pool.connect();
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (e) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}
