import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { FerryError } from "../../server/errors";
import { inspectGuest } from "../../server/input/inspect-guest";
import { runPipeline, type PipelineEvent } from "../../server/pipeline";
import { planTarget } from "../../server/plan";
import { DEBIAN_SKELETON, makeLinuxGuest } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { run } from "./helpers";

/**
 * Guests Ferry cannot convert fail at the right stage, before anything is
 * copied, with a message that says why and what to do.
 */

const root = mkdtempSync(join(tmpdir(), "ferry-refusals-"));
let noKernel: string;
let rootFull: string;
let noOs: string;
let damaged: string;
beforeAll(() => {
  // A wrong link count on /etc/hostname: it still mounts, and e2fsck -f finds it (Pass 4).
  damaged = makeLinuxGuest(root, "damaged", {
    files: DEBIAN_SKELETON,
    sizeMiB: 200,
    damage: (raw) => spawnSync("debugfs", ["-w", "-R", "sif /etc/hostname links_count 7", `${raw}?offset=1048576`]),
  });
  noKernel = makeLinuxGuest(root, "nokernel", { files: DEBIAN_SKELETON, sizeMiB: 200 });
  rootFull = makeLinuxGuest(root, "rootfull", { files: DEBIAN_SKELETON, sizeMiB: 160, fillMiB: 100 });
  noOs = makeLinuxGuest(root, "dataonly", { files: { "backups/README": "only data here\n" }, sizeMiB: 32 });
}, 120_000);

async function refused(vmx: string) {
  const out = mkdtempSync(join(tmpdir(), "ferry-refused-"));
  const before = fingerprint(dirname(vmx));
  const r = await run(vmx, { outputDir: out });
  expect(r.error).toBeInstanceOf(FerryError);
  expect(r.started.some((s) => s.startsWith("Copying"))).toBe(false);
  expect(readdirSync(out)).toEqual([]);
  expect(fingerprint(dirname(vmx))).toEqual(before);
  return { ...r, error: r.error as FerryError };
}

describe("refusals", () => {
  it("a disk without an operating system: at inspection", async () => {
    const r = await refused(noOs);
    expect(r.failedStage).toBe("Inspecting the overlay");
    expect(r.error.code).toBe("convert.no-os");
    expect(r.error.message).toBe("no operating system was found on the guest's disks");
    expect(r.error.hint).toMatch(/--copy-only/);
  }, 10 * 60_000);

  it("a damaged filesystem: at inspection, before anything is mounted for writing, naming it and the fix", async () => {
    const r = await refused(damaged);
    expect(r.failedStage).toBe("Inspecting the overlay");
    expect(r.error.code).toBe("convert.fs-damaged");
    expect(r.error.message).toMatch(/^the guest's \/ filesystem \(\/dev\/sda1, ext4\) is damaged: e2fsck -fn exit 4: .*(Inode \d+ ref count is 7, should be 1|link count)/i);
    expect(r.error.hint).toMatch(/^nothing was written; repair it inside the guest on VMware/);
    expect(r.events.some((e) => e.type === "conversion")).toBe(false);
  }, 10 * 60_000);

  it("a guest whose root is full: at the free-space check, naming the filesystem", async () => {
    const r = await refused(rootFull);
    expect(r.failedStage).toBe("Checking for sufficient free disk space in the guest");
    expect(r.error.code).toBe("convert.guest-space");
    expect(r.error.message).toMatch(/^the guest's \/ filesystem \(\/dev\/sda1\) has \d+(\.\d)? MiB free; the conversion needs at least 95 MiB there$/);
    expect(r.error.hint).toMatch(/free space in \/ inside the guest/);
  }, 10 * 60_000);

  it("a cancel while the appliance works stops it at once, leaving nothing behind", async () => {
    const out = mkdtempSync(join(tmpdir(), "ferry-cancel-"));
    const overlays = mkdtempSync(join(tmpdir(), "ferry-cancel-overlays-"));
    const ac = new AbortController();
    const events: PipelineEvent[] = [];
    const started = Date.now();
    const plan = planTarget(await inspectGuest(noKernel), { outputDir: out });
    const err = await runPipeline(plan, {
      signal: ac.signal,
      overlayDir: overlays,
      emit: (e) => {
        events.push(e);
        if (e.type === "stage" && e.name === "Inspecting the overlay" && e.state === "started") setTimeout(() => ac.abort(), 3000);
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "pipeline.cancelled" });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(events.find((e) => e.type === "stage" && e.state === "failed")).toMatchObject({ name: "Inspecting the overlay" });
    expect(readdirSync(out)).toEqual([]);
    expect(readdirSync(overlays)).toEqual([]);
    // The shim and its qemu are gone (setpriv --pdeathsig would also catch a crash of Ferry itself).
    const left = () => spawnSync("pgrep", ["-f", overlays], { encoding: "utf8" }).stdout.trim();
    for (let i = 0; i < 50 && left(); i++) await new Promise((r) => setTimeout(r, 200));
    expect(left()).toBe("");
  }, 10 * 60_000);

  it("a Linux guest without a kernel: at conversion", async () => {
    const r = await refused(noKernel);
    expect(r.failedStage).toBe("Converting the guest to run on KVM");
    expect(r.error.code).toBe("convert.no-kernel");
    expect(r.error.message).toMatch(/has no kernel in \/boot/);
    expect(r.error.hint).toMatch(/install a kernel package/);
  }, 10 * 60_000);
});
