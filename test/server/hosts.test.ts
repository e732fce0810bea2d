/**
 * Several conversion hosts on one PostgreSQL: two `ferry worker` processes
 * with different host names (each its own data and overlay folder, the same
 * NAS share and output folder, as hosts mounting the same storage would),
 * and this test process as the web host (FERRY_NO_WORKER=1: it runs no
 * jobs, serves the API and notices lost hosts). Real qemu-img copies of
 * small copy-only guests; a throwaway PostgreSQL cluster of the test's own.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Ferry } from "../../server/app";
import type { Job, StoredEvent } from "../../server/jobs";
import { apiClient, serveApi, type ApiServer } from "../fixtures/api-server";
import { makeGuest } from "../fixtures/guest";
import { startPostgres, type TestPostgres } from "../fixtures/postgres";

const root = mkdtempSync(join(tmpdir(), "ferry-hosts-"));
const share = join(root, "nas");
const out = join(root, "out");
// Long enough that a healthy worker on a loaded CI machine never misses it; short enough for a quick test.
const LEASE_SECONDS = 5;
let pg: TestPostgres;
let url: string;
let f: Ferry;
let server: ApiServer;
let api: string;
let token: string;
const workers = new Map<string, ChildProcess>();
const logs = new Map<string, string>();
const small: string[] = [];
let slow: string, slow2: string, slow3: string, slow4: string;

const wait = async (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const rel = (vmx: string) => relative(share, vmx);

function startWorker(host: string, databaseUrl = url): ChildProcess {
  const dataDir = join(root, `data-${host}`);
  const child = spawn(resolve(__dirname, "../../bin/ferry"), ["worker", "--host", host], {
    env: { ...process.env, FERRY_DATABASE_URL: databaseUrl, FERRY_DATA_DIR: dataDir, FERRY_CONFIG: join(root, "ferry.json"), FERRY_OVERLAY_DIR: join(dataDir, "scratch"), FERRY_ACCEL: "tcg" },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: killing it is the host losing power (tsx, node, qemu-img at once).
    detached: true,
  });
  logs.set(host, "");
  child.stdout!.on("data", (c) => logs.set(host, logs.get(host)! + c));
  child.stderr!.on("data", (c) => logs.set(host, logs.get(host)! + c));
  workers.set(host, child);
  return child;
}

function killHost(host: string): void {
  const child = workers.get(host)!;
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    /* gone */
  }
  workers.delete(host);
}

const job = async (id: string) => (await f.store.get(id))!;
const ended = (s: string) => ["succeeded", "failed", "cancelled", "interrupted"].includes(s);
const staged = () => readdirSync(out).filter((n) => n.startsWith(".ferry-"));

beforeAll(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase();
  mkdirSync(out, { recursive: true });
  for (let i = 0; i < 6; i++) small.push(makeGuest(share, `small${i}`, [{ slot: "scsi0:0", sizeMiB: 32, dataMiB: 4 }]));
  // Copied at a set rate (the job's bandwidth limit, a user option) so a copy runs for seconds.
  slow = makeGuest(share, "slow", [{ slot: "scsi0:0", sizeMiB: 512, dataMiB: 192 }]);
  slow2 = makeGuest(share, "slowtwo", [{ slot: "scsi0:0", sizeMiB: 512, dataMiB: 192 }]);
  slow3 = makeGuest(share, "slowthree", [{ slot: "scsi0:0", sizeMiB: 256, dataMiB: 96 }]);
  slow4 = makeGuest(share, "slowfour", [{ slot: "scsi0:0", sizeMiB: 512, dataMiB: 192 }]);
  writeFileSync(
    join(root, "ferry.json"),
    JSON.stringify({ shares: [{ name: "nas", path: share, readOnly: true }], outputs: [{ name: "out", path: out }], concurrency: 1, perShareLimit: 8, leaseSeconds: LEASE_SECONDS }),
  );
  // This process is the web host.
  Object.assign(process.env, { FERRY_DATABASE_URL: url, FERRY_DATA_DIR: join(root, "data-web"), FERRY_CONFIG: join(root, "ferry.json"), FERRY_NO_WORKER: "1", FERRY_ADMIN_PASSWORD: "hosts test password", FERRY_ACCEL: "tcg" });
  const { ferry } = await import("../../server/app");
  f = ferry();
  await f.ready;
  token = (await f.auth.createSession("admin")).token;
  ({ server, url: api } = await serveApi());
  startWorker("conv-a");
  startWorker("conv-b");
  await wait("both hosts to heartbeat", async () => (await f.store.hosts()).filter((h) => h.state === "online").length === 2, 60_000);
}, 300_000);

afterAll(async () => {
  for (const host of [...workers.keys()]) killHost(host);
  server?.close();
  await f?.store.close();
  await pg?.stop();
  rmSync(root, { recursive: true, force: true });
});

function client() {
  return apiClient(api, { headers: () => ({ cookie: `ferry_session=${token}` }) });
}

describe("two conversion hosts on PostgreSQL", () => {
  it("list on the Hosts page with their state, accelerator, overlay space and version", async () => {
    const { store, hosts } = await client().jobs.hosts.query();
    expect(store).toBe("postgresql");
    expect(hosts.map((h) => h.name)).toEqual(["conv-a", "conv-b"]);
    for (const h of hosts) {
      expect(h).toMatchObject({ state: "online", version: "0.1.0", concurrency: 1, leaseMs: LEASE_SECONDS * 1000, overlayDir: join(root, `data-${h.name}`, "scratch") });
      expect(h.overlayFreeBytes).toBeGreaterThan(0);
    }
    // The accelerator is probed once at start; the next heartbeat carries it.
    await wait("the accelerator in a heartbeat", async () => (await client().jobs.hosts.query()).hosts.every((h) => h.accelerator.startsWith("tcg")), 10_000);
  });

  it("share a batch: every job runs once, on one host or the other, and both hosts work", async () => {
    const { jobs } = await client().jobs.create.mutate({ guests: small.map((vmx) => ({ share: "nas", relPath: rel(vmx) })), options: { copyOnly: true, overwrite: true } });
    await wait("the batch", async () => (await Promise.all(jobs.map((j) => job(j.id)))).every((j) => ended(j.state)), 180_000);
    const done = await Promise.all(jobs.map((j) => job(j.id)));
    expect(done.map((j) => j.state)).toEqual(done.map(() => "succeeded"));
    expect(new Set(done.map((j) => j.host))).toEqual(new Set(["conv-a", "conv-b"]));
    for (const j of done) {
      const events = await f.store.events(j.id);
      // Each job started exactly once, on the host the store says.
      expect(events.filter((e) => e.event.type === "log" && e.event.message.startsWith("job started")).map((e) => (e.event as { message: string }).message)).toEqual([`job started on ${j.host}: nas:${j.relPath}`]);
    }
    expect(readdirSync(out).filter((n) => n.startsWith("small")).sort()).toEqual(small.flatMap((_, i) => [`small${i}-sda`, `small${i}.xml`]).sort());
  });

  it("a job asked for on one host runs there; an unknown host is refused with the fix", async () => {
    const { jobs } = await client().jobs.create.mutate({ guests: [{ share: "nas", relPath: rel(small[0]!) }], options: { copyOnly: true, overwrite: true, host: "conv-b" } });
    await wait("the pinned job", async () => ended((await job(jobs[0]!.id)).state), 60_000);
    expect(await job(jobs[0]!.id)).toMatchObject({ state: "succeeded", host: "conv-b" });
    const e = await client()
      .jobs.create.mutate({ guests: [{ share: "nas", relPath: rel(small[1]!) }], options: { copyOnly: true, host: "conv-z" } })
      .catch((x: unknown) => x as { message: string; data: { ferry: { code: string; hint: string } } });
    expect(e).toMatchObject({ message: expect.stringContaining('"conv-z"'), data: { ferry: { code: "host.unknown", hint: expect.stringContaining("Hosts page") } } });
  });

  it("a cancel from the web host stops the job on the worker that runs it", async () => {
    const { jobs } = await client().jobs.create.mutate({ guests: [{ share: "nas", relPath: rel(slow2) }], options: { copyOnly: true, overwrite: true, rateLimitMiBps: 24 } });
    const id = jobs[0]!.id;
    await wait("copy progress", async () => (await f.store.events(id)).some((e) => e.event.type === "progress" && e.event.bytesDone > 0), 60_000);
    const runningOn = (await job(id)).host;
    expect(["conv-a", "conv-b"]).toContain(runningOn);
    const t0 = Date.now();
    expect((await client().jobs.cancel.mutate({ id })).state).toBe("running"); // flagged; the worker ends it
    await wait("the cancel to reach the worker", async () => (await job(id)).state === "cancelled", 20_000);
    // Woken by the cancel's NOTIFY, the worker aborts the copy at once (it would otherwise see the flag within its 500 ms poll).
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await job(id)).toMatchObject({ host: runningOn, error: { code: "pipeline.cancelled" } });
    expect(readdirSync(out).filter((n) => n.startsWith("slowtwo") || n.startsWith(".ferry-slowtwo"))).toEqual([]);
    expect((await f.auth.auditLog()).find((a) => a.action === "jobs.cancel")).toMatchObject({ detail: { job: id, host: runningOn } });
  });

  it("events from a worker reach a subscriber on the web host in order, without gaps, through a reconnect and a dropped LISTEN", async () => {
    const { jobs } = await client().jobs.create.mutate({ guests: [{ share: "nas", relPath: rel(slow3) }], options: { copyOnly: true, overwrite: true, rateLimitMiBps: 32 } });
    const id = jobs[0]!.id;
    const seen: { seq: number; at: number; event: unknown }[] = [];
    const subscribe = (lastEventId: string | null) =>
      new Promise<{ unsubscribe(): void; done: Promise<void> }>((ready) => {
        let finish!: () => void;
        const done = new Promise<void>((r) => (finish = r));
        const sub = client().jobs.events.subscribe(
          { id, lastEventId },
          {
            onData: (d) => seen.push({ seq: Number(d.id), at: Date.now(), event: d.data }),
            onComplete: () => finish(),
            onError: () => finish(),
          },
        );
        ready({ unsubscribe: () => (sub.unsubscribe(), finish()), done });
      });
    const first = await subscribe(null);
    await wait("progress over SSE", () => seen.some((s) => (s.event as { type: string }).type === "progress"), 60_000);
    // The browser drops the stream and comes back with the last id it saw.
    first.unsubscribe();
    await new Promise((r) => setTimeout(r, 300));
    // The web host's LISTEN connection is cut too: wake-ups stop until it listens again; nothing may be lost meanwhile.
    const admin = new (await import("pg")).default.Client({ connectionString: url });
    await admin.connect();
    const cut = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN ferry_events' AND pid <> pg_backend_pid()");
    await admin.end();
    expect(cut.rowCount).toBeGreaterThanOrEqual(1);
    const second = await subscribe(String(seen.at(-1)!.seq));
    await second.done;
    expect((await job(id)).state).toBe("succeeded");
    const stored: StoredEvent[] = await f.store.events(id);
    expect(seen.map((s) => s.seq)).toEqual(stored.map((e) => e.seq));
    expect(seen.map((s) => s.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(seen.map((s) => s.event)).toEqual(stored.map((e) => e.event));
    expect(stored.at(-1)!.event).toMatchObject({ type: "result" });
  });

  it("a host killed mid-copy: its job is interrupted within the lease, nothing partial is left, the retry succeeds on the other host", async () => {
    const { jobs } = await client().jobs.create.mutate({ guests: [{ share: "nas", relPath: rel(slow) }], options: { copyOnly: true, overwrite: true, rateLimitMiBps: 24, autoRetry: 1 } });
    const id = jobs[0]!.id;
    await wait("copy progress", async () => (await f.store.events(id)).some((e) => e.event.type === "progress" && e.event.bytesDone > 0), 60_000);
    const victim = (await job(id)).host!;
    const survivor = victim === "conv-a" ? "conv-b" : "conv-a";
    const left = staged();
    expect(left.length).toBeGreaterThan(0);
    const t0 = Date.now();
    killHost(victim);
    await wait("qemu-img to die with its host", () => spawnSync("pgrep", ["-f", `scratch/${id}`]).status !== 0, 10_000);
    await wait("the job to be interrupted", async () => (await job(id)).state === "interrupted", 30_000);
    const took = Date.now() - t0;
    // The lease, plus one heartbeat of whoever notices, plus slack for a loaded machine.
    expect(took).toBeLessThan(LEASE_SECONDS * 1000 + (LEASE_SECONDS * 1000) / 3 + 2500);
    expect(await job(id)).toMatchObject({ host: victim, error: { code: "job.interrupted" } });
    // The noticing host removes what the dead one staged before the retry exists.
    await wait("the retry", async () => (await f.store.list()).some((j) => j.retryOf === id), 10_000);
    for (const name of left) expect(readdirSync(out)).not.toContain(name);
    const retry: Job = (await f.store.list()).find((j) => j.retryOf === id)!;
    expect(retry).toMatchObject({ attempt: 2, options: { autoRetry: 1 } });
    const warning = (await f.store.events(id)).find((e) => e.event.type === "warning" && e.event.code === "job.interrupted")!;
    expect(warning.event).toMatchObject({ message: expect.stringContaining(`host ${victim} stopped heartbeating`) });
    expect((warning.event as { message: string }).message).toContain(`runs again as job ${retry.id}`);
    await wait("the retry to finish", async () => ended((await job(retry.id)).state), 120_000);
    expect(await job(retry.id)).toMatchObject({ state: "succeeded", host: survivor });
    expect(readdirSync(out).filter((n) => n.startsWith("slow-") || n.startsWith("slow.") || n.startsWith(".ferry-slow-")).sort()).toEqual(["slow-sda", "slow.xml"]);
    // The Hosts page shows the dead host as lost.
    expect((await client().jobs.hosts.query()).hosts.find((h) => h.name === victim)).toMatchObject({ state: "lost" });
    expect(logs.get(survivor)).toContain(`"job":"${retry.id}"`);
  }, 240_000);

  it("a host cut off from the database stops its job before another host takes it over, and its late verdict does not overwrite the takeover", async () => {
    // conv-c reaches PostgreSQL through a Unix socket relay the test can cut: a network partition.
    const relayDir = mkdtempSync(join(tmpdir(), "ferry-relay-"));
    let cut = false;
    const held: (() => void)[] = [];
    const relay: Server = createServer((client: Socket) => {
      const upstream = connect(join(pg.socketDir, ".s.PGSQL.5432"));
      const forward = (from: Socket, to: Socket) =>
        from.on("data", (chunk) => {
          if (cut) held.push(() => to.write(chunk));
          else to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(join(relayDir, ".s.PGSQL.5432"), () => r()));
    try {
      startWorker("conv-c", url.replace(/host=[^&]*/, `host=${encodeURIComponent(relayDir)}`));
      await wait("conv-c to heartbeat", async () => (await f.store.hosts()).some((h) => h.name === "conv-c" && h.state === "online"), 60_000);
      const { jobs } = await client().jobs.create.mutate({ guests: [{ share: "nas", relPath: rel(slow4) }], options: { copyOnly: true, overwrite: true, rateLimitMiBps: 16, host: "conv-c" } });
      const id = jobs[0]!.id;
      await wait("copy progress on conv-c", async () => (await f.store.events(id)).some((e) => e.event.type === "progress" && e.event.bytesDone > 0), 60_000);
      const copying = () => spawnSync("pgrep", ["-f", `data-conv-c/scratch/${id}`]).status === 0;
      expect(copying()).toBe(true);
      cut = true;
      const t0 = Date.now();
      let stoppedAt = 0;
      let takenAt = 0;
      await wait("conv-c to stop copying, and the job to be taken over", async () => {
        if (!stoppedAt && !copying()) stoppedAt = Date.now();
        if (!takenAt && (await job(id)).state === "interrupted") takenAt = Date.now();
        return stoppedAt > 0 && takenAt > 0;
      }, 30_000);
      // It stopped on its own, before the lease ran out and another host cleaned up after it.
      expect(stoppedAt).toBeLessThan(takenAt);
      expect(stoppedAt - t0).toBeLessThan(LEASE_SECONDS * 1000);
      expect(logs.get("conv-c")).toContain("lease not renewed for three quarters of its time");
      // The partition heals: conv-c's pending writes arrive, but the verdict stands.
      cut = false;
      for (const send of held.splice(0)) send();
      await new Promise((r) => setTimeout(r, 2000));
      expect(await job(id)).toMatchObject({ state: "interrupted", host: "conv-c", error: { code: "job.interrupted" } });
      expect(readdirSync(out).filter((n) => n.startsWith("slowfour") || n.startsWith(".ferry-slowfour"))).toEqual([]);
    } finally {
      killHost("conv-c");
      relay.close();
      rmSync(relayDir, { recursive: true, force: true });
    }
  }, 180_000);
});
