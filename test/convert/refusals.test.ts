import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FerryError } from "../../server/errors";
import { DEBIAN_SKELETON, makeLinuxGuest } from "../fixtures/linux-guest";
import { fingerprint, run } from "./helpers";

/**
 * Guests Ferry cannot convert fail at the right stage, before anything is
 * copied, with a message that says why and what to do.
 */

const root = mkdtempSync(join(tmpdir(), "ferry-refusals-"));
let noKernel: string;
let rootFull: string;
let noOs: string;
beforeAll(() => {
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

  it("a guest whose root is full: at the free-space check, naming the filesystem", async () => {
    const r = await refused(rootFull);
    expect(r.failedStage).toBe("Checking for sufficient free disk space in the guest");
    expect(r.error.code).toBe("convert.guest-space");
    expect(r.error.message).toMatch(/^the guest's \/ filesystem \(\/dev\/sda1\) has \d+(\.\d)? MiB free; the conversion needs at least 95 MiB there$/);
    expect(r.error.hint).toMatch(/free space in \/ inside the guest/);
  }, 10 * 60_000);

  it("a Linux guest without a kernel: at conversion", async () => {
    const r = await refused(noKernel);
    expect(r.failedStage).toBe("Converting the guest to run on KVM");
    expect(r.error.code).toBe("convert.no-kernel");
    expect(r.error.message).toMatch(/has no kernel in \/boot/);
    expect(r.error.hint).toMatch(/install a kernel package/);
  }, 10 * 60_000);
});
