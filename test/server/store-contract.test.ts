/**
 * The store contract (jobs, events, hosts, leases, accounts, sessions,
 * audit), the same suite on each kind: SQLite in a temporary file, and
 * PostgreSQL in a throwaway cluster of the test's own (Unix socket in a
 * temporary folder, run as an unprivileged user).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthStore } from "../../server/auth";
import { defaultHostName, openStores, Worker, type Claimant, type HostBeat, type JobStore } from "../../server/jobs";
import { startPostgres, type TestPostgres } from "../fixtures/postgres";

const root = mkdtempSync(join(tmpdir(), "ferry-contract-"));
let pg: TestPostgres;
let n = 0;

beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
  rmSync(root, { recursive: true, force: true });
});

const KINDS: [string, () => Promise<{ store: JobStore; auth: AuthStore }>][] = [
  ["sqlite", async () => openStores({ dataDir: join(root, `s${++n}`), databaseUrl: null })],
  ["postgresql", async () => openStores({ dataDir: root, databaseUrl: await pg.createDatabase() })],
];

const options = { copyOnly: true };
const by = (host: string, pid = 4242, leaseMs = 60_000): Claimant => ({ host, pid, leaseMs });
const limits = (global: number | null, perShare: number, perHost: number) => ({ global, perShare, perHost });
const beat = (name: string, over: Partial<HostBeat> = {}): HostBeat => ({
  name,
  pid: 1,
  version: "0.1.0",
  accelerator: "tcg: test",
  overlayDir: "/srv/overlays",
  overlayFreeBytes: 5 * 2 ** 30,
  concurrency: 2,
  jobsRunning: 0,
  leaseMs: 60_000,
  ...over,
});

describe.each(KINDS)("the store contract on %s", (kind, open) => {
  let store: JobStore;
  let auth: AuthStore;
  beforeAll(async () => {
    ({ store, auth } = await open());
  });
  afterAll(async () => {
    await store.close();
    await auth.close();
  });

  it("keeps jobs and their events in order; an active job per guest", async () => {
    const j = await store.create({ share: "a", relPath: "x/x.vmx", options, copyOnly: true });
    expect(j).toMatchObject({ state: "queued", copyOnly: true, startedAt: null, outputs: [], host: null, attempt: 1, retryOf: null });
    expect(await store.get(j.id)).toEqual(j);
    expect(await store.get("00000000-0000-4000-8000-000000000000")).toBeNull();
    expect(await store.appendEvent(j.id, { type: "log", t: 0, message: "one" })).toBe(1);
    expect(await store.appendEvent(j.id, { type: "log", t: 0.1, message: "two" })).toBe(2);
    expect(await store.appendEvent(j.id, { type: "warning", t: 0.2, code: "c", message: "three" })).toBe(3);
    expect((await store.events(j.id, 1)).map((e) => e.seq)).toEqual([2, 3]);
    expect((await store.events(j.id, 0, 1)).map((e) => e.event)).toEqual([{ type: "log", t: 0, message: "one" }]);
    expect((await store.activeFor("a", "x/x.vmx"))?.id).toBe(j.id);
    expect(await store.activeFor("a", "y/y.vmx")).toBeNull();
    const claimed = await store.claimNext(limits(1, 1, 1), by("conv01"));
    expect(claimed).toMatchObject({ id: j.id, state: "running", host: "conv01" });
    expect(claimed!.startedAt).toBeGreaterThan(0);
    expect(await store.claimNext(limits(5, 5, 5), by("conv01"))).toBeNull();
    await store.markRunning(j.id, { outputDir: "/out", planName: "x" });
    await store.setPlannedOutputs(j.id, ["/out/x-sda", "/out/x.xml"]);
    expect(await store.finish(j.id, "succeeded", { outputs: [{ kind: "disk", path: "/out/x-sda", bytes: 1 }] })).toBe(true);
    // A verdict is given once: a late finish (the job was ended meanwhile) changes nothing.
    expect(await store.finish(j.id, "failed", {})).toBe(false);
    expect(await store.get(j.id)).toMatchObject({ state: "succeeded", outputDir: "/out", planName: "x", plannedOutputs: ["/out/x-sda", "/out/x.xml"], host: "conv01" });
    expect(await store.activeFor("a", "x/x.vmx")).toBeNull();
    expect((await store.list({ states: ["succeeded"] })).map((x) => x.id)).toContain(j.id);
    expect((await store.list({ share: "zzz" }))).toEqual([]);
  });

  it("refuses an event for a job it does not hold", async () => {
    if (kind === "postgresql") await expect(store.appendEvent("00000000-0000-4000-8000-000000000000", { type: "log", t: 0, message: "x" })).rejects.toThrow(/no job/);
    else expect(await store.events("00000000-0000-4000-8000-000000000000")).toEqual([]);
  });

  it("keeps the global, per-share and per-host limits, and a job meant for one host to that host", async () => {
    const s = `lim${kind}`;
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await store.create({ share: i < 3 ? s : `${s}-b`, relPath: `g${i}/g.vmx`, options }));
    const pinned = await store.create({ share: `${s}-c`, relPath: "p/p.vmx", options: { ...options, host: "conv02" } });
    // Per share 1: the second job of share s waits, the other share's runs; per host 1: conv01 takes one only.
    const a = await store.claimNext(limits(null, 1, 1), by("conv01"));
    expect(a!.id).toBe(jobs[0]!.id);
    expect(await store.claimNext(limits(null, 1, 1), by("conv01"))).toBeNull();
    const b = await store.claimNext(limits(null, 1, 5), by("conv03"));
    expect(b!.id).toBe(jobs[3]!.id); // jobs[1] and [2] are on the busy share
    // The pinned job is conv02's only.
    expect(await store.claimNext(limits(null, 1, 5), by("conv03"))).toBeNull();
    // Global 2: two run already (a, b) across hosts.
    expect(await store.claimNext(limits(2, 1, 5), by("conv02"))).toBeNull();
    const c = await store.claimNext(limits(3, 1, 5), by("conv02"));
    expect(c!.id).toBe(pinned.id);
    for (const j of [a!, b!, c!]) await store.finish(j.id, "succeeded", {});
    const d = await store.claimNext(limits(null, 1, 5), by("conv03"));
    expect(d!.id).toBe(jobs[1]!.id);
    await store.finish(d!.id, "succeeded", {});
    await store.finish((await store.claimNext(limits(null, 1, 5), by("conv03")))!.id, "succeeded", {});
  });

  it("cancels a queued job at once and flags a running one for its worker, wherever it runs", async () => {
    const q = await store.create({ share: `c${kind}`, relPath: "q/q.vmx", options });
    expect((await store.requestCancel(q.id))!.state).toBe("cancelled");
    expect((await store.get(q.id))!.finishedAt).toBeGreaterThan(0);
    const r = await store.create({ share: `c${kind}`, relPath: "r/r.vmx", options });
    expect((await store.claimNext(limits(null, 5, 5), by("conv09")))!.id).toBe(r.id);
    expect(await store.cancelRequested([r.id])).toEqual([]);
    expect((await store.requestCancel(r.id))!.state).toBe("running");
    expect(await store.cancelRequested([r.id, q.id])).toEqual([r.id]);
    expect(await store.cancelRequested([])).toEqual([]);
    expect(await store.requestCancel("00000000-0000-4000-8000-000000000000")).toBeNull();
    await store.finish(r.id, "cancelled", { error: { code: "pipeline.cancelled", message: "cancelled", file: null, line: null, hint: null } });
  });

  it("leases: renewed by the holder, expired ones become interrupted once, for one caller; a lost job is not finished again", async () => {
    const j = await store.create({ share: `l${kind}`, relPath: "l/l.vmx", options: { ...options, autoRetry: 2 } });
    const holder = by("conv05", 555, 300);
    expect((await store.claimNext(limits(null, 5, 5), holder))!.id).toBe(j.id);
    expect(await store.renewLeases(holder)).toEqual([j.id]);
    expect(await store.renewLeases(by("conv05", 556))).toEqual([]); // another process of the host holds nothing
    expect(await store.expireLeases()).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    const [lost, again] = await Promise.all([store.expireLeases(), store.expireLeases()]);
    expect([...lost, ...again].map((x) => x.id)).toEqual([j.id]);
    expect([...lost, ...again][0]).toMatchObject({ state: "interrupted", host: "conv05", error: { code: "job.interrupted" }, options: { autoRetry: 2 } });
    expect(await store.renewLeases(holder)).toEqual([]);
    expect(await store.finish(j.id, "succeeded", {})).toBe(false);
    expect((await store.get(j.id))!.state).toBe("interrupted");
    const retry = await store.create({ share: j.share, relPath: j.relPath, options: j.options, copyOnly: j.copyOnly, retryOf: j.id, attempt: 2 });
    expect(retry).toMatchObject({ retryOf: j.id, attempt: 2, state: "queued" });
    await store.requestCancel(retry.id);
  });

  it("lists running jobs with the host and process that claimed them", async () => {
    const j = await store.create({ share: `r${kind}`, relPath: "r/r.vmx", options });
    await store.claimNext(limits(null, 5, 5), by("conv07", 777));
    const running = await store.running();
    expect(running.find((r) => r.job.id === j.id)).toMatchObject({ host: "conv07", workerPid: 777 });
    await store.finish(j.id, "failed", {});
    expect((await store.running()).some((r) => r.job.id === j.id)).toBe(false);
  });

  it("wakes subscribers with the job and sequence of each event", async () => {
    const j = await store.create({ share: `w${kind}`, relPath: "w/w.vmx", options });
    const got: number[] = [];
    const off = store.onEvent((id, seq) => {
      if (id === j.id) got.push(seq);
    });
    // PostgreSQL: the LISTEN connection opens with the first subscriber.
    await (store as { listeningNow?: () => Promise<void> }).listeningNow?.();
    for (let i = 0; i < 5; i++) await store.appendEvent(j.id, { type: "log", t: i, message: `m${i}` });
    const end = Date.now() + 5000;
    while (got.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    // A cancel of a running job wakes subscribers too (sequence 0): its worker acts on it at once.
    await store.claimNext(limits(null, 100, 100), by(`w${kind}`));
    await store.requestCancel(j.id);
    while (got.length < 6 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    off();
    expect(got).toEqual([1, 2, 3, 4, 5, 0]);
    await store.appendEvent(j.id, { type: "log", t: 9, message: "after" });
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toHaveLength(6);
    await store.finish(j.id, "cancelled", {});
  });

  it("registers hosts by heartbeat: online, lost past the lease, stopped when told", async () => {
    await store.heartbeat(beat("conv-a"));
    await store.heartbeat(beat("conv-b", { leaseMs: 200, jobsRunning: 1, overlayFreeBytes: null }));
    let hosts = await store.hosts();
    expect(hosts.find((h) => h.name === "conv-a")).toMatchObject({ state: "online", accelerator: "tcg: test", overlayFreeBytes: 5 * 2 ** 30, concurrency: 2, version: "0.1.0" });
    const startedA = hosts.find((h) => h.name === "conv-a")!.startedAt;
    await new Promise((r) => setTimeout(r, 300));
    await store.heartbeat(beat("conv-a", { jobsRunning: 2 }));
    hosts = await store.hosts();
    expect(hosts.find((h) => h.name === "conv-a")).toMatchObject({ state: "online", jobsRunning: 2, startedAt: startedA });
    expect(hosts.find((h) => h.name === "conv-b")).toMatchObject({ state: "lost", jobsRunning: 1, overlayFreeBytes: null });
    await store.hostStopped("conv-a");
    expect((await store.hosts()).find((h) => h.name === "conv-a")).toMatchObject({ state: "stopped", jobsRunning: 0 });
    // A restart is a new start.
    await store.heartbeat(beat("conv-a", { pid: 2 }));
    const back = (await store.hosts()).find((h) => h.name === "conv-a")!;
    expect(back.state).toBe("online");
    expect(back.startedAt).toBeGreaterThanOrEqual(startedA);
  });

  it("keeps only token hashes, expires nothing early, ends all of a user's sessions", async () => {
    await auth.ensureAdmin("admin", "pw");
    expect(await auth.checkPassword("admin", "pw")).toBe(true);
    expect(await auth.checkPassword("admin", "nope")).toBe(false);
    expect(await auth.checkPassword("ghost", "pw")).toBe(false);
    const one = await auth.createSession("admin");
    const two = await auth.createSession("admin");
    expect(one.session.id).not.toContain(one.token);
    expect((await auth.session(one.token))?.user).toBe("admin");
    expect(await auth.session("forged")).toBeNull();
    expect(await auth.session(null)).toBeNull();
    expect(await auth.endSessions("admin")).toBe(2);
    expect(await auth.session(two.token)).toBeNull();
    await auth.audit({ user: "admin", address: "127.0.0.1", action: "jobs.create", detail: { job: "j" } });
    await auth.audit({ user: null, address: null, action: "auth.login.failed" });
    expect(await auth.auditLog()).toEqual([
      expect.objectContaining({ user: null, address: null, action: "auth.login.failed", detail: {} }),
      expect.objectContaining({ user: "admin", address: "127.0.0.1", action: "jobs.create", detail: { job: "j" } }),
    ]);
    expect(await auth.auditLog(1)).toHaveLength(1);
  });

  it("adds, lists, changes and removes accounts; a new password or a removal ends the sessions", async () => {
    await auth.ensureAdmin("admin", "first password");
    await auth.addUser("alice", "operator", "alice's password");
    await auth.addUser("vic", "viewer", "vic's password");
    expect((await auth.users()).map((u) => [u.name, u.role])).toEqual([["admin", "admin"], ["alice", "operator"], ["vic", "viewer"]]);
    await expect(auth.addUser("alice", "admin", "x".repeat(12))).rejects.toMatchObject({ code: "user.exists" });
    await expect(auth.addUser("../etc", "admin", "x".repeat(12))).rejects.toMatchObject({ code: "user.name.invalid" });
    const s1 = await auth.createSession("alice");
    const s2 = await auth.createSession("alice");
    expect(await auth.session(s1.token)).toMatchObject({ user: "alice", role: "operator" });
    expect((await auth.users()).find((u) => u.name === "alice")!.sessions).toBe(2);
    expect(await auth.hasUser("alice")).toBe(true);
    expect(await auth.changePassword("alice", "a new password")).toBe(2);
    expect(await auth.session(s2.token)).toBeNull();
    expect(await auth.checkPassword("alice", "alice's password")).toBe(false);
    expect(await auth.checkPassword("alice", "a new password")).toBe(true);
    const s3 = await auth.createSession("vic");
    expect(await auth.removeUser("vic")).toBe(1);
    expect(await auth.session(s3.token)).toBeNull();
    expect(await auth.checkPassword("vic", "vic's password")).toBe(false);
    await expect(auth.removeUser("vic")).rejects.toMatchObject({ code: "user.unknown" });
    await expect(auth.changePassword("ghost", "whatever123")).rejects.toMatchObject({ code: "user.unknown" });
    // The last admin stays; with a second one, either may go.
    await expect(auth.removeUser("admin")).rejects.toMatchObject({ code: "user.last-admin" });
    await auth.addUser("root2", "admin", "another admin");
    expect(await auth.removeUser("admin")).toBe(0);
    expect(await auth.admins()).toBe(1);
  });

  it("FERRY_ADMIN_PASSWORD at every start ends the admin's sessions only when it changed", async () => {
    await auth.ensureAdmin("boss", "same password");
    const s = await auth.createSession("boss");
    await auth.ensureAdmin("boss", "same password");
    expect((await auth.session(s.token))?.user).toBe("boss");
    await auth.ensureAdmin("boss", "other password");
    expect(await auth.session(s.token)).toBeNull();
  });
});

describe("choosing the store", () => {
  it("refuses a database URL that is not PostgreSQL's, naming the setting", () => {
    expect(() => openStores({ dataDir: root, databaseUrl: "mysql://x/y" })).toThrow(expect.objectContaining({ code: "config.invalid", message: expect.stringContaining("postgresql://") }));
  });

  it("a PostgreSQL that cannot be reached: a clear error naming the URL (without its password) and the fix", async () => {
    const { store, auth } = openStores({ dataDir: root, databaseUrl: `postgresql://ferry:secret@/nowhere?host=${encodeURIComponent(join(root, "no-socket"))}` });
    const e = (await store.list().catch((x: unknown) => x)) as { code: string; message: string; hint: string };
    expect(e).toMatchObject({ code: "database.unreachable", hint: expect.stringContaining("FERRY_DATABASE_URL") });
    expect(e.message).toContain("ferry:***@");
    expect(e.message).not.toContain("secret");
    await expect(auth.users()).rejects.toMatchObject({ code: "database.unreachable" });
    await store.close();
  });

  it("applies the schema once, whichever host starts first", async () => {
    const url = await pg.createDatabase();
    const many = Array.from({ length: 4 }, () => openStores({ dataDir: root, databaseUrl: url }));
    await Promise.all(many.map((s) => s.store.list()));
    const j = await many[0]!.store.create({ share: "s", relPath: "a/a.vmx", options });
    expect((await many[3]!.store.get(j.id))!.id).toBe(j.id);
    for (const s of many) await s.store.close();
  });
});

describe("the worker", () => {
  it("is the machine's by default, and refused with the fix when it is not a name", async () => {
    const { store } = openStores({ dataDir: join(root, "names"), databaseUrl: null });
    const config = { dataDir: join(root, "names"), shares: [], outputs: [{ name: "o", path: join(root, "names", "out") }], concurrency: 1, perShareLimit: 1 };
    expect(new Worker({ store, config }).host).toBe(defaultHostName());
    expect(defaultHostName()).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
    expect(() => new Worker({ store, config, host: "conv 01; rm -rf /" })).toThrow(expect.objectContaining({ code: "worker.host.invalid", hint: expect.stringContaining("--host") }));
    await store.close();
  });
});

describe("a lost host's jobs", () => {
  it.each(KINDS)("on %s: are retried at most autoRetry times, each retry counting its attempt, and their staged files removed", async (_kind, open) => {
    const { store, auth } = await open();
    const out = mkdtempSync(join(root, "lost-out-"));
    const config = { dataDir: join(root, "lost"), shares: [], outputs: [{ name: "o", path: out }], concurrency: 1, perShareLimit: 1 };
    const noticer = new Worker({ store, config, host: "noticer" });
    const dead = by("dead-host", 31337, 50);
    const first = await store.create({ share: "s", relPath: "g/g.vmx", options: { ...options, autoRetry: 1 } });
    const lose = async () => {
      const j = (await store.claimNext(limits(null, 5, 5), dead))!;
      await store.markRunning(j.id, { outputDir: out, planName: "g" });
      mkdirSync(join(out, ".ferry-g-abc123"));
      writeFileSync(join(out, ".ferry-g-abc123", "g-sda"), "partial");
      writeFileSync(join(out, "g-sda"), "renamed into place before the crash");
      await store.setPlannedOutputs(j.id, [join(out, "g-sda"), join(out, "g.xml")]);
      await new Promise((r) => setTimeout(r, 120));
      return j;
    };
    expect((await lose()).id).toBe(first.id);
    const reaped = await noticer.reap();
    expect(reaped.map((j) => j.id)).toEqual([first.id]);
    expect(readdirSync(out)).toEqual([]);
    const retry = (await store.list()).find((j) => j.retryOf === first.id)!;
    expect(retry).toMatchObject({ state: "queued", attempt: 2, options: { autoRetry: 1 } });
    expect((await store.events(first.id)).at(-1)!.event).toMatchObject({ type: "warning", code: "job.interrupted", message: expect.stringContaining(`runs again as job ${retry.id} (attempt 2 of 2)`) });
    // The retry is lost too: no third attempt.
    expect((await lose()).id).toBe(retry.id);
    expect((await noticer.reap()).map((j) => j.id)).toEqual([retry.id]);
    expect(readdirSync(out)).toEqual([]);
    expect((await store.list()).filter((j) => j.state === "queued")).toEqual([]);
    expect((await store.events(retry.id)).at(-1)!.event).toMatchObject({ message: expect.stringContaining("Retry it to run it again") });
    // Nothing left to reap.
    expect(await noticer.reap()).toEqual([]);
    await store.close();
    await auth.close();
  });
});
