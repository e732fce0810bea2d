/**
 * Several conversion hosts on PostgreSQL (a throwaway cluster, as in the
 * tests): a batch through one worker and through two (separate `ferry
 * worker` processes, concurrency 1 each, same run), the latency of a job's
 * event from the worker's store to a subscriber's LISTEN connection and read,
 * and 1,000 claims by 4 competing workers, none doubled.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { openStores, Worker, type JobStore } from "../../server/jobs";
import { makeGuest } from "../../test/fixtures/guest";
import { startPostgres } from "../../test/fixtures/postgres";
import { median, type Row } from "./row";

/** A worker and everything it started (its own process group); nothing when it is gone already. */
function killGroup(c: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-c.pid!, signal);
  } catch {
    /* gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function benchHosts(work: string, root: string): Promise<Row[]> {
  const rows: Row[] = [];
  const pg = await startPostgres();
  const children: ChildProcess[] = [];
  try {
    const share = join(work, "hosts-nas");
    const guests = Array.from({ length: 8 }, (_, i) => makeGuest(share, `batch${i}`, [{ slot: "scsi0:0", sizeMiB: 256, dataMiB: 96 }]));

    // 1. The batch, through one worker, then through two, each on a database of its own.
    const batch = async (hosts: string[], rateLimitMiBps?: number): Promise<number> => {
      const url = await pg.createDatabase();
      const out = mkdtempSync(join(work, "hosts-out-"));
      const config = `${out}.json`;
      writeFileSync(config, JSON.stringify({ shares: [{ name: "nas", path: share, readOnly: true }], outputs: [{ name: "out", path: out }], concurrency: 1, perShareLimit: 8, leaseSeconds: 10 }));
      const { store } = openStores({ dataDir: work, databaseUrl: url });
      const mine: ChildProcess[] = [];
      for (const host of hosts) {
        const dataDir = join(work, `hosts-data-${host}-${hosts.length}`);
        mkdirSync(dataDir, { recursive: true });
        const child = spawn(join(root, "bin", "ferry"), ["worker", "--host", host], {
          env: { ...process.env, FERRY_DATABASE_URL: url, FERRY_DATA_DIR: dataDir, FERRY_CONFIG: config, FERRY_ACCEL: "tcg" },
          stdio: "ignore",
          detached: true,
        });
        children.push(child);
        mine.push(child);
      }
      try {
        // Timed from the queue filling, with every worker up and heartbeating (process start-up is not the batch's).
        await until("the workers to heartbeat", async () => (await store.hosts()).filter((h) => h.state === "online").length === hosts.length, 120_000);
        const t0 = performance.now();
        const ids: string[] = [];
        for (const vmx of guests) ids.push((await store.create({ share: "nas", relPath: relative(share, vmx), options: { copyOnly: true, overwrite: true, rateLimitMiBps } })).id);
        await until("the batch", async () => (await Promise.all(ids.map((id) => store.get(id)))).every((j) => j && !["queued", "running"].includes(j.state)), 600_000);
        const seconds = (performance.now() - t0) / 1000;
        const jobs = await Promise.all(ids.map((id) => store.get(id)));
        const bad = jobs.filter((j) => j!.state !== "succeeded");
        if (bad.length) throw new Error(`bench batch: ${bad.length} jobs did not succeed (${bad[0]!.state}: ${bad[0]!.error?.message})`);
        if (new Set(jobs.map((j) => j!.host)).size !== hosts.length) throw new Error(`bench batch: not every host took a job (${[...new Set(jobs.map((j) => j!.host))].join(", ")})`);
        return seconds;
      } finally {
        for (const c of mine) killGroup(c, "SIGTERM");
        await store.close();
        rmSync(out, { recursive: true, force: true });
      }
    };
    // Each copy read at 32 MiB/s (the job's NAS bandwidth limit, as a shared NAS would set it): each job's time is
    // I/O the two workers can overlap, not this machine's two cores that other work shares.
    const one = await batch(["bench-a"], 32);
    const two = await batch(["bench-a", "bench-b"], 32);
    rows.push({ name: "hosts: batch of 8 copy-only guests (96 MiB each, 32 MiB/s per copy), 2 workers", unit: "s", ferry: two, baseline: one, baselineName: "the same batch through 1 worker", targetRatio: 0.6 });
    // The same without the limit, for the record: then the copies compete for the CPU (2 cores here, shared).
    const oneFree = await batch(["bench-a"]);
    const twoFree = await batch(["bench-a", "bench-b"]);
    rows.push({ name: "hosts: (same batch, no bandwidth limit: CPU-bound here)", unit: "s", ferry: twoFree, baseline: oneFree, baselineName: "the same batch through 1 worker" });

    // 2. Event latency: a worker with a store of its own (its own connections) writes; the subscriber's store
    //    LISTENs on another connection and reads what it is told about, as the SSE subscription does.
    {
      const url = await pg.createDatabase();
      const out = mkdtempSync(join(work, "hosts-sse-"));
      const writer = openStores({ dataDir: work, databaseUrl: url }).store;
      const reader = openStores({ dataDir: work, databaseUrl: url }).store as JobStore & { listeningNow(): Promise<void> };
      const vmx = makeGuest(share, "latency", [{ slot: "scsi0:0", sizeMiB: 1024, dataMiB: 256 }]);
      const job = await writer.create({ share: "nas", relPath: relative(share, vmx), options: { copyOnly: true, overwrite: true, rateLimitMiBps: 64 } });
      const appendedAt = new Map<number, number>();
      const append = writer.appendEvent.bind(writer);
      writer.appendEvent = async (id, e) => {
        const seq = await append(id, e);
        if (id === job.id) appendedAt.set(seq, performance.now());
        return seq;
      };
      const latencies: number[] = [];
      let last = 0;
      let reading = Promise.resolve();
      reader.onEvent((id) => {
        if (id !== job.id) return;
        reading = reading.then(async () => {
          for (const e of await reader.events(job.id, last)) {
            last = e.seq;
            const at = appendedAt.get(e.seq);
            if (at !== undefined) latencies.push(performance.now() - at);
          }
        });
      });
      await reader.listeningNow();
      const worker = new Worker({ store: writer, config: { dataDir: join(work, "hosts-sse-data"), shares: [{ name: "nas", path: share, readOnly: true, datastores: [] }], outputs: [{ name: "o", path: out }], concurrency: 1, perShareLimit: 1 }, host: "bench-sse", pollMs: 50 }).start();
      await until("the latency job", async () => !["queued", "running"].includes((await writer.get(job.id))!.state), 300_000);
      await worker.stop();
      await reading;
      if ((await writer.get(job.id))!.state !== "succeeded") throw new Error("bench latency job did not succeed");
      rows.push({ name: `hosts: job event, worker store → LISTEN subscriber, PostgreSQL (${latencies.length} events)`, unit: "ms", ferry: median(latencies), baseline: 250, baselineName: "the 250 ms budget", target: 250 });
      await writer.close();
      await reader.close();
      rmSync(out, { recursive: true, force: true });
    }

    // 3. 1,000 claims by 4 workers competing, each with its own connections: every job exactly once.
    const claimRun = async (workers: number) => {
      const url = await pg.createDatabase();
      const setup = openStores({ dataDir: work, databaseUrl: url }).store;
      const ids = new Set<string>();
      for (let i = 0; i < 1000; i++) ids.add((await setup.create({ share: `s${i % 7}`, relPath: `g${i}/g${i}.vmx`, options: { copyOnly: true } })).id);
      const claimers = Array.from({ length: workers }, () => openStores({ dataDir: work, databaseUrl: url }).store);
      const claimed: string[] = [];
      const t0 = performance.now();
      await Promise.all(
        claimers.map(async (s, w) => {
          for (;;) {
            const j = await s.claimNext({ global: null, perShare: 10_000, perHost: 10_000 }, { host: `claim-${w}`, pid: 1000 + w, leaseMs: 600_000 });
            if (!j) return;
            claimed.push(j.id);
          }
        }),
      );
      const ms = performance.now() - t0;
      const missed = [...ids].filter((id) => !claimed.includes(id)).length;
      if (missed) throw new Error(`bench claims: ${missed} jobs never claimed`);
      for (const s of [setup, ...claimers]) await s.close();
      return { doubled: claimed.length - new Set(claimed).size, claims: claimed.length, msPerClaim: ms / claimed.length };
    };
    const four = await claimRun(4);
    const single = await claimRun(1);
    rows.push({ name: `hosts: jobs claimed twice, 4 competing workers, ${four.claims} claims`, unit: "claims", ferry: four.doubled, baseline: four.claims, baselineName: "claims made", target: 0 });
    rows.push({ name: "hosts: (same) wall time per claim, 4 workers competing", unit: "ms", ferry: four.msPerClaim, baseline: single.msPerClaim, baselineName: "1 worker claiming alone" });
  } finally {
    for (const c of children) killGroup(c, "SIGKILL");
    await pg.stop();
  }
  return rows;
}

/**
 * The SQLite store behind the asynchronous contract, against the same
 * statements run synchronously on better-sqlite3: what the async wrapper
 * costs the one-host path (create, claim, 5 events, read them, finish).
 */
export async function benchSqliteStore(work: string): Promise<Row> {
  const { SqliteJobStore } = await import("../../server/jobs");
  const { toJob } = await import("../../server/jobs/rows");
  type Row = Parameters<typeof toJob>[0];
  const Database = (await import("better-sqlite3")).default;
  const N = 1000;
  const ev = JSON.stringify({ type: "log", t: 0, message: "x" });
  const viaStore = async (i: number) => {
    const s = new SqliteJobStore(join(work, `store-${i}.db`));
    const t0 = performance.now();
    for (let k = 0; k < N; k++) {
      const j = await s.create({ share: "a", relPath: `g${k}.vmx`, options: { copyOnly: true } });
      await s.claimNext({ global: null, perShare: 100, perHost: 100 }, { host: "h", pid: 1, leaseMs: 60_000 });
      for (let e = 0; e < 5; e++) await s.appendEvent(j.id, { type: "log", t: 0, message: "x" });
      await s.events(j.id, 0);
      await s.finish(j.id, "succeeded", {});
    }
    const ms = performance.now() - t0;
    await s.close();
    return ms;
  };
  const bare = (i: number) => {
    // The same file layout, statements and row parsing (zod), called directly.
    new SqliteJobStore(join(work, `bare-${i}.db`)).close();
    const db = new Database(join(work, `bare-${i}.db`));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const insert = db.prepare("INSERT INTO jobs (id, share, rel_path, state, options, copy_only, created_at, retry_of, target_host, attempt) VALUES (?, 'a', ?, 'queued', ?, 1, ?, NULL, NULL, 1)");
    const get = db.prepare("SELECT * FROM jobs WHERE id = ?");
    const running = db.prepare("SELECT COUNT(*) n FROM jobs WHERE state = 'running' AND host = ?");
    const pick = db.prepare("SELECT id FROM jobs q WHERE state = 'queued' AND (target_host IS NULL OR target_host = ?) AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.share = q.share) < ? ORDER BY created_at, rowid LIMIT 1");
    const claim = db.prepare("UPDATE jobs SET state = 'running', started_at = ?, worker_pid = 1, host = 'h', lease_until = ? WHERE id = ?");
    const next = db.prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM events WHERE job_id = ?");
    const append = db.prepare("INSERT INTO events (job_id, seq, event) VALUES (?, ?, ?)");
    const read = db.prepare("SELECT seq, event FROM events WHERE job_id = ? AND seq > 0 ORDER BY seq LIMIT 10000");
    const finish = db.prepare("UPDATE jobs SET state = 'succeeded', finished_at = ?, error = NULL, outputs = '[]', worker_pid = NULL, lease_until = NULL WHERE id = ? AND state = 'running'");
    const t0 = performance.now();
    for (let k = 0; k < N; k++) {
      const id = crypto.randomUUID();
      insert.run(id, `g${k}.vmx`, JSON.stringify({ copyOnly: true }), Date.now());
      toJob(get.get(id) as Row);
      db.transaction(() => {
        running.get("h");
        const r = pick.get("h", 100) as { id: string } | undefined;
        if (r) claim.run(Date.now(), Date.now() + 60_000, r.id);
      }).immediate();
      toJob(get.get(id) as Row);
      for (let e = 0; e < 5; e++) db.transaction(() => append.run(id, (next.get(id) as { seq: number }).seq, ev)).immediate();
      (read.all(id) as { event: string }[]).map((r) => JSON.parse(r.event) as unknown);
      finish.run(Date.now(), id);
    }
    const ms = performance.now() - t0;
    db.close();
    return ms;
  };
  const store: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 5; i++) {
    direct.push(bare(i));
    store.push(await viaStore(i));
  }
  return { name: `job store (SQLite): ${N} jobs created, claimed, 5 events each, read, finished`, unit: "ms", ferry: median(store), baseline: median(direct), baselineName: "the same statements, synchronous better-sqlite3", targetRatio: 1.3 };
}
