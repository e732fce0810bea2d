/**
 * Jobs with real guests and real qemu-img: the life of a job, cancel,
 * per-share limits, and a worker killed with SIGKILL mid-copy.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteJobStore, Worker, type Job, type JobStore } from "../../server/jobs";
import type { FerryConfig } from "../../server/shares";
import { makeGuest } from "../fixtures/guest";

const root = mkdtempSync(join(tmpdir(), "ferry-jobs-"));
const shareA = join(root, "nas-a");
const shareB = join(root, "nas-b");
const out = join(root, "out");
let small: string, bigA: string, bigA2: string, smallB: string;

const config = (over: Partial<FerryConfig> = {}) => ({
  dataDir: join(root, "data"),
  shares: [
    { name: "a", path: shareA, readOnly: true, datastores: [] },
    { name: "b", path: shareB, readOnly: true, datastores: [] },
  ],
  outputs: [{ name: "out", path: out }],
  concurrency: 2,
  perShareLimit: 1,
  ...over,
});

const wait = async (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const rel = (share: string, vmx: string) => relative(share, vmx);
const options = { output: "local" as const, format: "raw" as const, allocation: "sparse" as const, networks: [], bridges: [], macs: [], parallel: 1, overwrite: true };

beforeAll(() => {
  mkdirSync(out, { recursive: true });
  small = makeGuest(shareA, "small", [{ slot: "scsi0:0", sizeMiB: 32, dataMiB: 4 }]);
  bigA = makeGuest(shareA, "big-a", [{ slot: "scsi0:0", sizeMiB: 2048, dataMiB: 700 }]);
  bigA2 = makeGuest(shareA, "big-a2", [{ slot: "scsi0:0", sizeMiB: 1024, dataMiB: 300 }]);
  smallB = makeGuest(shareB, "small-b", [{ slot: "scsi0:0", sizeMiB: 32, dataMiB: 4 }]);
}, 300_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fresh(name: string, over: Partial<FerryConfig> = {}): { store: JobStore; worker: Worker } {
  const store = new SqliteJobStore(join(root, `${name}.db`));
  const worker = new Worker({ store, config: config(over), pollMs: 100 });
  return { store, worker };
}

describe("worker", () => {
  it("runs a job queued → running → succeeded, with its event log and outputs", async () => {
    const { store, worker } = fresh("life");
    const job = await store.create({ share: "a", relPath: rel(shareA, small), options, copyOnly: true });
    const states = new Set<string>();
    worker.start();
    await wait("the job to finish", async () => {
      const s = (await store.get(job.id))!.state;
      states.add(s);
      return s === "succeeded" || s === "failed";
    });
    await worker.stop();
    const done = (await store.get(job.id))!;
    expect(done.state).toBe("succeeded");
    expect(states.has("running")).toBe(true);
    expect(done.outputs.map((f) => f.path)).toEqual([join(out, "small-sda"), join(out, "small.xml")]);
    const events = (await store.events(job.id)).map((e) => e.event);
    expect(events.filter((e) => e.type === "warning").map((e) => (e as { code: string }).code)).toContain("pipeline.copy-only");
    expect(events.at(-1)).toMatchObject({ type: "result" });
    expect(existsSync(worker.overlayDir(job.id))).toBe(false);
  });

  it("fails a job whose guest cannot be read, with a typed error event", async () => {
    mkdirSync(join(shareA, "bad"), { recursive: true });
    writeFileSync(join(shareA, "bad", "bad.vmx"), "KDMV....");
    const { store, worker } = fresh("bad");
    const job = await store.create({ share: "a", relPath: "bad/bad.vmx", options, copyOnly: true });
    worker.start();
    await wait("the job to fail", async () => (await store.get(job.id))!.state === "failed");
    await worker.stop();
    expect((await store.get(job.id))!.error).toMatchObject({ code: "vmx.is-vmdk" });
    expect((await store.events(job.id)).at(-1)!.event).toMatchObject({ type: "error", code: "vmx.is-vmdk" });
  });

  it("cancels a running job mid-copy and leaves nothing behind", async () => {
    const { store, worker } = fresh("cancel");
    const job = await store.create({ share: "a", relPath: rel(shareA, bigA), options, copyOnly: true });
    worker.start();
    await wait("copy progress", async () => (await store.events(job.id)).some((e) => e.event.type === "progress" && e.event.bytesDone > 0));
    await worker.cancel(job.id);
    await wait("the job to be cancelled", async () => (await store.get(job.id))!.state === "cancelled");
    await worker.stop();
    expect((await store.get(job.id))!.error).toMatchObject({ code: "pipeline.cancelled" });
    expect(readdirSync(out).filter((f) => f.startsWith("big-a") || f.startsWith(".ferry-big-a"))).toEqual([]);
  });

  it("cancels a queued job at once", async () => {
    const { store, worker } = fresh("cancel-queued");
    const job = await store.create({ share: "a", relPath: rel(shareA, small), options, copyOnly: true });
    expect((await worker.cancel(job.id))!.state).toBe("cancelled");
  });

  it("keeps two jobs on one share to the per-share limit, while another share runs", async () => {
    const { store, worker } = fresh("limit", { concurrency: 2, perShareLimit: 1 });
    const first = await store.create({ share: "a", relPath: rel(shareA, bigA2), options, copyOnly: true });
    const second = await store.create({ share: "a", relPath: rel(shareA, small), options, copyOnly: true });
    const other = await store.create({ share: "b", relPath: rel(shareB, smallB), options, copyOnly: true });
    worker.start();
    let overlap = false;
    let otherRanWhileFirstRan = false;
    await wait("all three jobs", async () => {
      const [a, b, c] = await Promise.all([first, second, other].map(async (j) => (await store.get(j.id))!.state));
      if (a === "running" && b === "running") overlap = true;
      if (a === "running" && (c === "running" || c === "succeeded")) otherRanWhileFirstRan = true;
      return [a, b, c].every((s) => s === "succeeded" || s === "failed");
    }, 120_000);
    await worker.stop();
    expect(await Promise.all([first, second, other].map(async (j) => (await store.get(j.id))!.state))).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(overlap).toBe(false);
    expect(otherRanWhileFirstRan).toBe(true);
    expect((await store.get(second.id))!.startedAt!).toBeGreaterThanOrEqual((await store.get(first.id))!.finishedAt!);
  });
});

describe("a worker killed mid-copy", () => {
  it("is recovered: the job is interrupted, no partial output, no stray qemu-img, and a retry succeeds", async () => {
    const dataDir = join(root, "killdata");
    mkdirSync(dataDir, { recursive: true });
    const cfgFile = join(dataDir, "ferry.json");
    const cfg = config({ dataDir, concurrency: 1 });
    writeFileSync(cfgFile, JSON.stringify({ shares: cfg.shares, outputs: cfg.outputs, concurrency: 1, perShareLimit: 1 }));
    const store = new SqliteJobStore(join(dataDir, "ferry.db"));
    const job = await store.create({ share: "a", relPath: rel(shareA, bigA), options, copyOnly: true });
    const bin = resolve(__dirname, "../../bin/ferry");
    const child = spawn(bin, ["worker"], { env: { ...process.env, FERRY_DATA_DIR: dataDir, FERRY_CONFIG: cfgFile }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (c) => (log += c));
    await wait("copy progress in the standalone worker", async () => (await store.events(job.id)).some((e) => e.event.type === "progress" && e.event.bytesDone > 0), 90_000);
    expect((await store.get(job.id))!.state).toBe("running");
    expect(log).toContain(`"job":"${job.id}"`);
    // tsx runs node as a child: kill the whole group, as an OOM killer or power cut would.
    spawnSync("pkill", ["-KILL", "-P", String(child.pid)]);
    child.kill("SIGKILL");
    await wait("qemu-img to die with its parent", async () => spawnSync("pgrep", ["-f", `overlays/${job.id}`]).status !== 0, 10_000);
    const staged = () => readdirSync(out).filter((f) => f.startsWith(".ferry-big-a-") || f === "big-a-sda");
    expect(staged().length).toBeGreaterThan(0);

    const worker = new Worker({ store, config: cfg, pollMs: 100 });
    const interrupted = await worker.recover();
    expect(interrupted.map((j: Job) => j.id)).toEqual([job.id]);
    expect(await store.get(job.id)).toMatchObject({ state: "interrupted", error: { code: "job.interrupted" } });
    expect(staged()).toEqual([]);
    expect(existsSync(join(dataDir, "overlays", job.id))).toBe(false);

    const retry = await store.create({ share: "a", relPath: rel(shareA, bigA), options, copyOnly: true, retryOf: job.id });
    worker.start();
    await wait("the retry to finish", async () => ["succeeded", "failed"].includes((await store.get(retry.id))!.state), 120_000);
    await worker.stop();
    expect(await store.get(retry.id)).toMatchObject({ state: "succeeded", retryOf: job.id });
    execFileSync("rm", ["-f", join(out, "big-a-sda"), join(out, "big-a.xml")]);
  });
});
