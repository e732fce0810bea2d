/**
 * -o libvirt against a real libvirt daemon (test/fixtures/libvirtd.ts),
 * with small generated guests copied without conversion: the domain
 * defined with what the host offers, the disks volumes of the pool, the
 * refusals before anything is copied, and nothing left by a failed or
 * cancelled run. The Debian guest's start is in test/convert/libvirt.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run as cli } from "../../server/cli/main";
import { inspectGuest } from "../../server/input/inspect-guest";
import { probeLibvirt } from "../../server/libvirt/host";
import { runPipeline, type PipelineEvent } from "../../server/pipeline";
import { planTarget } from "../../server/plan";
import { makeGuest } from "../fixtures/guest";
import { startLibvirtd, type TestLibvirtd } from "../fixtures/libvirtd";

const FERRY = resolve(__dirname, "../../bin/ferry");
const root = mkdtempSync(join(tmpdir(), "ferry-libvirt-"));
let lv: TestLibvirtd;
let poolDir: string;
let one: string, two: string, big: string;

async function ferry(...args: string[]) {
  let out = "";
  let err = "";
  const code = await cli(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

beforeAll(async () => {
  lv = await startLibvirtd();
  poolDir = lv.pool("images");
  lv.network("default");
  one = makeGuest(root, "one", [{ slot: "scsi0:0", sizeMiB: 64, dataMiB: 8 }], ['uuid.bios = "56 4d 12 34 56 78 9a bc-de f0 12 34 56 78 9a bc"']);
  two = makeGuest(root, "two", [{ slot: "scsi0:0", sizeMiB: 32, dataMiB: 2 }, { slot: "sata0:1", sizeMiB: 16, dataMiB: 1 }]);
  big = makeGuest(root, "big", [{ slot: "scsi0:0", sizeMiB: 1024, dataMiB: 256 }]);
}, 120_000);

afterAll(async () => {
  await lv?.stop();
  rmSync(root, { recursive: true, force: true });
});

const volumes = (pool = "images") => lv.virsh("vol-list", pool).trim().split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/)[0]).sort();
const domains = () => lv.virsh("list", "--all", "--name").split("\n").map((s) => s.trim()).filter(Boolean).sort();

describe("ferry -o libvirt -oc URI -os POOL", () => {
  it("reads the host's offer: qemu (no KVM here), its q35 version, OVMF from the firmware descriptors, the pool's folder", async () => {
    const t = await probeLibvirt(lv.uri, "images");
    expect(t.poolPath).toBe(poolDir);
    expect(["kvm", "qemu"]).toContain(t.domainType);
    expect(t.machine).toMatch(/^pc-q35-\d+\.\d+$/);
    expect(t.firmware.plain).toMatchObject({ code: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd", descriptor: "60-edk2-x86_64.json" });
    expect(t.firmware.secure).toMatchObject({ code: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" });
  });

  it("defines the domain with the host's domain type and machine, its disks volumes of the pool; dominfo and vol-list show them", async () => {
    const r = await ferry("-i", "vmx", two, "-o", "libvirt", "-oc", lv.uri, "-os", "images", "--copy-only", "-n", "default");
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Setting up the destination: -o libvirt -oc ${lv.uri} -os images`);
    expect(r.err).toMatch(/libvirt domain "two" on .*: shut off; volumes in pool "images": two-sda, two-sdb/);
    expect(lv.virsh("dominfo", "two")).toMatch(/State:\s+shut off/);
    expect(volumes()).toEqual(["two-sda", "two-sdb"]);
    // Nothing else in the pool's folder: no XML, no staging folder.
    expect(readdirSync(poolDir).sort()).toEqual(["two-sda", "two-sdb"]);
    const xml = lv.virsh("dumpxml", "two");
    const t = await probeLibvirt(lv.uri, "images");
    expect(xml).toContain(`<domain type='${t.domainType}'`);
    expect(xml).toContain(`machine='${t.machine}'`);
    expect(xml).toContain(`<source file='${join(poolDir, "two-sda")}'`);
    expect(xml).toContain("<source network='default'");
  });

  it("defines a UEFI guest with the host's OVMF and its own variables, a volume of the pool", async () => {
    const efi = makeGuest(root, "efi", [{ slot: "scsi0:0", sizeMiB: 16, dataMiB: 1 }], ['firmware = "efi"']);
    const r = await ferry("-i", "vmx", efi, "-o", "libvirt", "-oc", lv.uri, "-os", "images", "--copy-only", "-n", "default");
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const xml = lv.virsh("dumpxml", "efi");
    expect(xml).toContain("<loader readonly='yes' secure='no' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>");
    expect(xml).toContain(`<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>${join(poolDir, "efi_VARS.fd")}</nvram>`);
    expect(volumes()).toEqual(expect.arrayContaining(["efi-sda", "efi_VARS.fd"]));
    lv.virsh("undefine", "--keep-nvram", "efi");
    for (const f of ["efi-sda", "efi_VARS.fd"]) rmSync(join(poolDir, f));
    lv.virsh("pool-refresh", "images");
  });

  it("refuses a domain name already defined, before copying anything; --overwrite replaces the shut-off domain", async () => {
    const before = readdirSync(poolDir).sort();
    const r = await ferry("-i", "vmx", two, "-o", "libvirt", "-oc", lv.uri, "-os", "images", "--copy-only", "-n", "default", "--machine-readable");
    expect(r.code).toBe(1);
    const events = r.out.trim().split("\n").map((l) => JSON.parse(l) as PipelineEvent);
    expect(events.at(-1), r.out).toMatchObject({ type: "error", code: "libvirt.domain-exists" });
    expect((events.at(-1) as { message: string }).message).toContain(`already has a domain named "two"`);
    expect(events.some((e) => e.type === "stage" && e.name.startsWith("Copying"))).toBe(false);
    expect(readdirSync(poolDir).sort()).toEqual(before);
    const uuidBefore = lv.virsh("domuuid", "two").trim();
    const again = await ferry("-i", "vmx", two, "-o", "libvirt", "-oc", lv.uri, "-os", "images", "--copy-only", "-n", "default", "--overwrite");
    expect(again.code).toBe(0);
    expect(domains()).toEqual(["two"]);
    expect(lv.virsh("domuuid", "two").trim()).not.toBe(uuidBefore);
    expect(volumes()).toEqual(["two-sda", "two-sdb"]);
  });

  it("refuses a libvirt it cannot reach, naming the URI and libvirt's error", async () => {
    const uri = `qemu+unix:///system?socket=${join(root, "no-such.sock")}`;
    const r = await ferry("-i", "vmx", one, "-o", "libvirt", "-oc", uri, "-os", "images", "--copy-only", "-n", "default");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`ferry: error: cannot reach libvirt at ${uri}: `);
    expect(r.err).toMatch(/no-such\.sock/);
    expect(r.err).toMatch(/hint: is the libvirt daemon running/);
  });

  it("refuses a pool that does not exist, listing those that do", async () => {
    const r = await ferry("-i", "vmx", one, "-o", "libvirt", "-oc", lv.uri, "-os", "nope", "--copy-only");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`has no storage pool "nope"`);
    expect(r.err).toContain("pools there: images");
  });

  it("refuses a pool that is not running", async () => {
    const dir = join(lv.dir, "stopped");
    lv.pool("stopped", dir);
    lv.virsh("pool-destroy", "stopped");
    const r = await ferry("-i", "vmx", one, "-o", "libvirt", "-oc", lv.uri, "-os", "stopped", "--copy-only");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`storage pool "stopped" is inactive, not running`);
    expect(r.err).toContain("pool-start stopped");
  });

  it("refuses a pool without room for the guest, before copying", () => {
    // The pool's folder is a 16 MiB tmpfs, mounted only in the mount namespace Ferry runs in.
    const dir = mkdtempSync(join(lv.dir, "small-"));
    lv.pool("small", dir);
    const script = `mount -t tmpfs -o size=16m ferry-test "$1" && shift && exec "$@"`;
    const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, FERRY, "-i", "vmx", one, "-o", "libvirt", "-oc", lv.uri, "-os", "small", "--copy-only", "-n", "default", "--machine-readable"], { encoding: "utf8", timeout: 180_000 });
    expect(r.status).toBe(1);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as PipelineEvent);
    const err = events.at(-1) as Extract<PipelineEvent, { type: "error" }>;
    expect(err).toMatchObject({ type: "error", code: "output.no-space" });
    expect(err.message).toMatch(new RegExp(`^storage pool "small" \\(${dir}\\) has 16 MiB free; this guest needs \\d+ MiB`));
    expect(events.some((e) => e.type === "stage" && e.name.startsWith("Copying"))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a NIC's network the host does not have", async () => {
    const r = await ferry("-i", "vmx", one, "-o", "libvirt", "-oc", lv.uri, "-os", "images", "--copy-only", "-n", "nowhere");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`has no network "nowhere"`);
    expect(r.err).toContain("networks there: default");
    expect(domains()).not.toContain("one");
  });

  it("leaves no volume and no domain when cancelled mid-copy", async () => {
    const ac = new AbortController();
    const plan = planTarget(await inspectGuest(big), { output: "libvirt", outputDir: poolDir, libvirt: await probeLibvirt(lv.uri, "images"), copyOnly: true, networks: ["default"], rateLimit: 16 * 1024 * 1024 });
    const events: PipelineEvent[] = [];
    const p = runPipeline(plan, {
      emit: (e) => {
        events.push(e);
        if (e.type === "progress" && e.bytesDone > 0) ac.abort();
      },
      signal: ac.signal,
    });
    await expect(p).rejects.toMatchObject({ code: "pipeline.cancelled" });
    expect(domains()).not.toContain("big");
    lv.virsh("pool-refresh", "images");
    expect(volumes()).not.toContain("big-sda");
    expect(readdirSync(poolDir).filter((f) => f.startsWith(".ferry") || f.startsWith("big"))).toEqual([]);
  });

  it("leaves no volume when the define fails (a domain of that name appeared during the copy)", async () => {
    const plan = planTarget(await inspectGuest(one), { output: "libvirt", outputDir: poolDir, libvirt: await probeLibvirt(lv.uri, "images"), copyOnly: true, networks: ["default"] });
    const xml = join(root, "squatter.xml");
    writeFileSync(xml, "<domain type='qemu'><name>one</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os></domain>\n");
    let defined = false;
    const p = runPipeline(plan, {
      emit: (e) => {
        if (!defined && e.type === "stage" && e.name === "Creating output metadata" && e.state === "started") {
          defined = true;
          lv.virsh("define", xml);
        }
      },
    });
    await expect(p).rejects.toMatchObject({ code: "libvirt.failed", message: expect.stringMatching(/defining the domain "one" on .* failed: .*already exists/) });
    expect(domains()).toContain("one");
    expect(lv.virsh("dumpxml", "one")).toContain("<memory unit='KiB'>65536</memory>");
    expect(volumes()).not.toContain("one-sda");
    expect(readdirSync(poolDir).filter((f) => f.startsWith("one") || f.startsWith(".ferry"))).toEqual([]);
    lv.virsh("undefine", "one");
  });
});
