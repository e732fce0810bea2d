import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { PipelineEvent } from "../../server/pipeline";
import { debianGuests, type DebianGuests } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { guestText, run, validateXml, asLinux } from "./helpers";

/**
 * The split guest: 2 GB extents (twoGbMaxExtentSparse) and a data disk on a
 * second pvscsi controller, mounted from /dev/sdb1. Both names must move,
 * or the converted guest stops in emergency mode waiting for /data.
 */

let guests: DebianGuests;
beforeAll(() => {
  guests = debianGuests();
}, 20 * 60_000);

describe("the split Debian guest (two disks on two controllers)", () => {
  it("converts to vda and vdb, mounts /data on KVM, and keeps the source unchanged", async () => {
    const out = mkdtempSync(join(tmpdir(), "ferry-split-"));
    const before = fingerprint(dirname(guests.split));
    const r = await run(guests.split, { outputDir: out, format: "raw" });
    expect(r.error).toBeNull();
    expect(readdirSync(out).sort()).toEqual(["debian12-split-console.log", "debian12-split-screen.png", "debian12-split-vda", "debian12-split-vdb", "debian12-split.xml"]);
    expect(guestText(join(out, "debian12-split-vda"), "/etc/fstab")).toBe("/dev/vda1\t/\text4\terrors=remount-ro\t0\t1\n/dev/vdb1\t/data\text4\tdefaults\t0\t2\n");
    expect(guestText(join(out, "debian12-split-vdb"), "/hello.txt")).toBe("ferry test data\n");
    const conversion = asLinux(r.events.find((e): e is Extract<PipelineEvent, { type: "conversion" }> => e.type === "conversion")!.report);
    expect(conversion.remapped.map((x) => `${x.from} → ${x.to}`)).toEqual(["/dev/sda1 → /dev/vda1", "/dev/sdb1 → /dev/vdb1"]);
    const boot = r.events.find((e): e is Extract<PipelineEvent, { type: "boot" }> => e.type === "boot")!;
    expect(boot.ok).toBe(true);
    const console = readFileSync(join(out, "debian12-split-console.log"), "utf8");
    expect(console).toMatch(/Mounted .*data\.mount|Mounted data\.mount|\/data/);
    expect(console).not.toMatch(/emergency mode/);
    validateXml(join(out, "debian12-split.xml"));
    expect(fingerprint(dirname(guests.split))).toEqual(before);
    rmSync(out, { recursive: true, force: true });
  }, 20 * 60_000);
});
