/**
 * Faults, each with what must survive: a source that vanishes, changes or
 * stalls mid-copy, and a worker killed with SIGKILL in every stage.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FerryError } from "../server/errors";
import { inspectGuest } from "../server/input/inspect-guest";
import { defaultHostName, SqliteJobStore, Worker } from "../server/jobs";
import { runPipeline, type PipelineEvent } from "../server/pipeline";
import { planTarget } from "../server/plan";
import { makeGuest } from "./fixtures/guest";

const root = mkdtempSync(join(tmpdir(), "ferry-faults-"));
const MiB = 1024 ** 2;
let template: string;

beforeAll(() => {
  template = makeGuest(join(root, "templates"), "victim", [{ slot: "scsi0:0", sizeMiB: 256, dataMiB: 64 }]);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A private copy of the guest, so a test may damage it. */
function guestCopy(name: string): string {
  const dir = join(root, name, "victim");
  cpSync(join(template, ".."), dir, { recursive: true });
  return join(dir, "victim.vmx");
}

const wait = async (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** No live process left in the group (zombies waiting to be reaped do not count). */
function groupGone(pgid: number): boolean {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") return false;
    } catch {
      /* gone meanwhile */
    }
  }
  return true;
}

async function copyWithFault(vmx: string, fault: (overlayDir: string) => void, stallMs?: number) {
  const out = mkdtempSync(join(root, "out-"));
  const overlayDir = mkdtempSync(join(root, "ovl-"));
  const plan = planTarget(await inspectGuest(vmx), { outputDir: out, copyOnly: true, rateLimit: 8 * MiB });
  let done = false;
  const events: PipelineEvent[] = [];
  let error: FerryError | null = null;
  try {
    await runPipeline(plan, {
      overlayDir,
      stallMs,
      emit: (e) => {
        events.push(e);
        if (!done && e.type === "progress" && e.bytesDone > 0) {
          done = true;
          fault(overlayDir);
        }
      },
    });
  } catch (e) {
    error = e as FerryError;
  }
  expect(done).toBe(true);
  return { error, out, overlayDir, events };
}

describe("the source during a copy", () => {
  it("disappears: a clear error, nothing left", async () => {
    const vmx = guestCopy("vanish");
    const r = await copyWithFault(vmx, () => unlinkSync(join(vmx, "..", "victim.vmdk")));
    expect(r.error).toMatchObject({ code: "source.vanished", file: join(vmx, "..", "victim.vmdk") });
    expect(readdirSync(r.out)).toEqual([]);
    expect(readdirSync(r.overlayDir)).toEqual([]);
  });

  it("is truncated (qemu-img would copy zeros without a word): refused, nothing left", async () => {
    const vmx = guestCopy("truncate");
    const r = await copyWithFault(vmx, () => truncateSync(join(vmx, "..", "victim.vmdk"), 65536));
    expect(r.error).toMatchObject({ code: "source.changed" });
    expect(r.error!.hint).toMatch(/shut down/);
    expect(readdirSync(r.out)).toEqual([]);
  });

  it("stalls: the watchdog fails the copy, nothing left", async () => {
    const vmx = guestCopy("stall");
    let stopped: string[] = [];
    const r = await copyWithFault(
      vmx,
      (overlayDir) => {
        // Freeze qemu-img, as a hung NFS read would.
        stopped = spawnSync("pgrep", ["-f", overlayDir], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
        for (const pid of stopped) process.kill(Number(pid), "SIGSTOP");
      },
      4500,
    );
    expect(stopped.length).toBeGreaterThan(0);
    expect(r.error).toMatchObject({ code: "qemu.stalled" });
    expect(r.error!.message).toMatch(/no progress for 4.5 s/);
    // Progress kept coming while stalled, with the same bytes: what the UI shows as stalled.
    const last = r.events.filter((e): e is Extract<PipelineEvent, { type: "progress" }> => e.type === "progress").slice(-2);
    expect(last[0]!.bytesDone).toBe(last[1]!.bytesDone);
    expect(readdirSync(r.out)).toEqual([]);
  });
});

describe("a worker killed with SIGKILL", () => {
  const STAGES = [
    "Opening the source",
    "Creating an overlay to protect the source from being modified",
    "Inspecting the overlay",
    "Checking for sufficient free disk space in the guest",
    "Converting the guest to run on KVM",
    "Mapping filesystem data to avoid copying unused and blank areas",
    "Closing the overlay",
    "Estimating space required on target for each disk",
    "Setting up the destination",
    "Copying disk 1/1",
    "Creating output metadata",
    "Checking that the guest boots",
    "Finishing off",
  ];

  it.each(STAGES)("in “%s”: the job is interrupted, nothing left, the source unchanged", async (stage) => {
    const share = join(root, `kill-${STAGES.indexOf(stage)}`);
    const vmx = guestCopy(relative(root, share));
    const sum = () => createHash("sha256").update(readFileSync(join(vmx, "..", "victim.vmdk"))).digest("hex");
    const before = sum();
    const dataDir = join(share, "data");
    const out = join(share, "out");
    mkdirSync(out, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    const config = { dataDir, shares: [{ name: "s", path: share, readOnly: true, datastores: [] }], outputs: [{ name: "o", path: out }], concurrency: 1, perShareLimit: 1 };
    writeFileSync(join(dataDir, "ferry.json"), JSON.stringify({ shares: config.shares, outputs: config.outputs, concurrency: 1, perShareLimit: 1 }));
    const store = new SqliteJobStore(join(dataDir, "ferry.db"));
    const job = await store.create({ share: "s", relPath: relative(share, vmx), options: { rateLimitMiBps: 16 }, copyOnly: true });
    const child = spawn(resolve(__dirname, "../bin/ferry"), ["worker"], { env: { ...process.env, FERRY_DATA_DIR: dataDir }, stdio: "ignore", detached: true });
    await wait(`stage ${stage}`, async () => (await store.events(job.id)).some((e) => e.event.type === "stage" && e.event.state === "started" && e.event.name.startsWith(stage)), 60_000);
    process.kill(-child.pid!, "SIGKILL");
    await wait("the worker and its children to die", async () => groupGone(child.pid!), 10_000);

    const worker = new Worker({ store, config });
    const recovered = await worker.recover();
    const j = (await store.get(job.id))!;
    if (j.state === "succeeded") {
      // Killed after the last commit: the job was done, and nothing is to be recovered.
      expect(recovered).toEqual([]);
    } else {
      expect(recovered.map((x) => x.id)).toEqual([job.id]);
      expect(j.state).toBe("interrupted");
      expect(readdirSync(out)).toEqual([]);
    }
    expect(readdirSync(join(dataDir, "overlays")).filter((d) => d === job.id)).toEqual([]);
    expect(sum()).toBe(before);
    await store.close();
  }, 90_000);

  it("and a retry after an interruption succeeds", async () => {
    const share = join(root, "kill-retry");
    const vmx = guestCopy("kill-retry");
    const dataDir = join(share, "data");
    const out = join(share, "out");
    mkdirSync(out, { recursive: true });
    const config = { dataDir, shares: [{ name: "s", path: share, readOnly: true, datastores: [] }], outputs: [{ name: "o", path: out }], concurrency: 1, perShareLimit: 1 };
    const store = new SqliteJobStore(join(dataDir, "ferry.db"));
    const job = await store.create({ share: "s", relPath: relative(share, vmx), options: {}, copyOnly: true });
    await store.claimNext({ global: 1, perShare: 1, perHost: 1 }, { host: defaultHostName(), pid: 999_999_999, leaseMs: 60_000 }); // a worker that no longer exists
    const worker = new Worker({ store, config, pollMs: 50 });
    expect((await worker.recover()).map((x) => x.id)).toEqual([job.id]);
    const retry = await store.create({ share: "s", relPath: relative(share, vmx), options: {}, copyOnly: true, retryOf: job.id });
    worker.start();
    await wait("the retry", async () => ["succeeded", "failed"].includes((await store.get(retry.id))!.state));
    await worker.stop();
    expect((await store.get(retry.id))!.state).toBe("succeeded");
    expect(readdirSync(out).sort()).toEqual(["victim-sda", "victim.xml"]);
  });
});
