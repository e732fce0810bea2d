import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SourceVm } from "../vmx";
import { run } from "./main";

const dir = mkdtempSync(join(tmpdir(), "ferry-cli-"));
const vmx = join(dir, "db01.vmx");
writeFileSync(
  vmx,
  [
    '.encoding = "windows-1252"',
    'displayName = "db01 é"',
    'memsize = 8192',
    'numvcpus = "4"',
    'cpuid.coresPerSocket = "2"',
    'firmware = "EFI"',
    'guestOS = "rhel9-64"',
    'scsi0.present = "TRUE"',
    'scsi0.virtualDev = "lsisas1068"',
    'scsi0:0.present = "TRUE"',
    'scsi0:0.fileName = "db01.vmdk"',
    'ethernet0.present = "TRUE"',
    'ethernet0.virtualDev = "vmxnet3"',
    'ethernet0.networkName = "Prod"',
    'ethernet0.addressType = "static"',
    'ethernet0.address = "00:50:56:12:34:56"',
    'ethernet0.connectionType = "bridged"',
    'ide1:0.present = "TRUE"',
    'ide1:0.deviceType = "cdrom-image"',
    'ide1:0.fileName = "tools.iso"',
  ].join("\r\n"),
  "latin1", // é as the single windows-1252 byte 0xE9
);

async function cli(...args: string[]) {
  let out = "";
  let err = "";
  const status = await run(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { status, out, err };
}

describe("ferry CLI", () => {
  it("inspect prints a readable summary", async () => {
    const r = await cli("inspect", vmx);
    expect(r.status).toBe(0);
    expect(r.out).toContain("db01 é");
    expect(r.out).toMatch(/CPUs\s+4 vCPUs \(2 sockets × 2 cores\)/);
    expect(r.out).toMatch(/Firmware\s+UEFI/);
    expect(r.out).toMatch(/scsi0:0\s+db01\.vmdk/);
    expect(r.out).toContain("00:50:56:12:34:56");
    expect(r.out).toMatch(/line 3: value of memsize is not quoted/);
  });

  it("inspect --json prints the SourceVm", async () => {
    const r = await cli("inspect", "--json", vmx);
    expect(r.status).toBe(0);
    const vm = SourceVm.parse(JSON.parse(r.out));
    expect(vm).toMatchObject({ name: "db01 é", memoryMiB: 8192, firmware: "uefi", encoding: "windows-1252" });
    expect(vm.nics[0]).toMatchObject({ mac: "00:50:56:12:34:56", macType: "static", network: "Prod", model: "vmxnet3" });
  });

  it("prints virt-v2v's --print-source block", async () => {
    const r = await cli("-i", "vmx", vmx, "--print-source");
    expect(r.status).toBe(0);
    expect(r.out).toContain("    source name: db01 é\n");
    expect(r.out).toContain("         memory: 8589934592 (bytes)\n");
    expect(r.out).toContain("   CPU topology: sockets: 2 cores/socket: 2 threads/core: 1\n");
    expect(r.out).toContain("       firmware: uefi\n");
    expect(r.out).toContain("disks:\n\t0 [scsi]\nremovable media:\n\tCD-ROM [ide] in slot 2\n");
    expect(r.out).toContain('\tBridge "Prod" mac: 00:50:56:12:34:56 [vmxnet3]\n');
  });

  it("reports errors as ferry: error: FILE[:LINE]: message, exit 1", async () => {
    const desc = join(dir, "disk.vmx");
    writeFileSync(desc, "\n# Disk DescriptorFile\nversion=1\n");
    const r = await cli("inspect", desc);
    expect(r.status).toBe(1);
    expect(r.err).toContain(`ferry: error: ${desc}:2: this is a VMDK disk descriptor, not a VMX file\n`);
    expect(r.err).toContain("ferry: hint:");
    expect(r.out).toBe("");
  });

  it("names a missing file", async () => {
    const r = await cli("inspect", join(dir, "missing.vmx"));
    expect(r.status).toBe(1);
    expect(r.err).toContain(`ferry: error: ${join(dir, "missing.vmx")}: no such file`);
  });

  it.each([
    [["inspect"], "exactly one"],
    [["inspect", "--yaml", vmx], "unknown option --yaml"],
    [["-i", "ova", vmx], "only -i vmx"],
    [[vmx], "-i vmx is required"],
    [["-i", "vmx", vmx, "-o", "local"], "-o local needs -os DIR"],
    [["-i", "vmx", vmx, "-os", dir], "-o local|qemu|json|libvirt is required"],
    [["-i", "vmx", vmx, "-o", "xen", "-os", dir], "-o xen: expected local or qemu or json or libvirt"],
    [["-i", "vmx", vmx, "-o", "libvirt"], "-o libvirt needs -os POOL, the storage pool"],
    [["-i", "vmx", vmx, "-o", "local", "-os", dir, "-oc", "qemu:///system"], "-oc names a libvirt connection: it goes with -o libvirt, not -o local"],
    [["-i", "vmx", vmx, "-o", "json", "-os", dir, "--start"], "--start starts the guest in libvirt: it goes with -o libvirt, not -o json"],
    [["-i", "vmx", vmx, "-o", "libvirt", "-os", "default", "-oc"], "-oc needs a value"],
    [["-i", "vmx", vmx, "-o", "local", "-os", dir, "-of", "vmdk"], "-of vmdk: expected raw or qcow2"],
    [["-i", "vmx", vmx, "-o", "local", "-os", dir, "--parallel", "0"], "--parallel 0: expected a number from 1 to 16"],
    [["-i", "vmx", vmx, "-o", "local", "-os", "--copy-only"], "-os needs a value"],
    [["-i"], "-i needs a value"],
    [["worker", "--bogus"], "worker takes only --host NAME"],
    [["worker", "--host", "conv 01;rm"], 'worker --host "conv 01;rm": 1 to 63 letters'],
    [["worker", "--host=-x"], 'worker --host "-x": 1 to 63 letters'],
  ])("refuses bad usage %j", async (args, message) => {
    const r = await cli(...(args as string[]));
    expect(r.status).toBe(1);
    expect(r.err).toContain(message);
    expect(r.err).toContain("usage:");
  });

  it("runs as bin/ferry from the repository", async () => {
    const bin = resolve(__dirname, "../../bin/ferry");
    const ok = execFileSync(bin, ["inspect", "--json", vmx], { encoding: "utf8" });
    expect(JSON.parse(ok).name).toBe("db01 é");
    const bad = spawnSync(bin, ["inspect", join(dir, "missing.vmx")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^ferry: error: .*missing\.vmx: no such file$/m);
  });
});

describe("ferry CLI on disks", () => {
  // Imported lazily: building the fixture runs qemu-img.
  it("inspect --json includes each disk's facts and concerns", async () => {
    const { makeFourDiskGuest } = await import("../../test/fixtures/guest");
    const guestVmx = makeFourDiskGuest(mkdtempSync(join(tmpdir(), "ferry-cli-guest-")));
    const r = await cli("inspect", "--json", guestVmx);
    expect(r.status).toBe(0);
    const vm = JSON.parse(r.out);
    expect(vm.diskFacts.map((d: { id: string; facts: { createType: string; chain: unknown[] } }) => [d.id, d.facts.createType, d.facts.chain.length])).toEqual([
      ["scsi0:0", "monolithicSparse", 3],
      ["scsi0:1", "monolithicFlat", 1],
      ["scsi0:2", "twoGbMaxExtentSparse", 1],
      ["scsi0:3", "monolithicSparse", 1],
    ]);
    expect(vm.diskFacts[0].facts.allocatedBytes).toBe(11 * 1024 ** 2);
    expect(vm.concerns.map((c: { id: string }) => c.id)).toContain("vmx.disk.snapshot");
    const text = (await cli("inspect", guestVmx)).out;
    expect(text).toMatch(/scsi0:0\s+app01-000002\.vmdk\s+persistent\s+256 MiB \(11 MiB used\), monolithicSparse, 2 snapshots/);
  });

  it("inspect reports an unsafe disk as a critical concern and still shows the guest", async () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-cli-bad-"));
    writeFileSync(join(d, "bad.vmx"), 'displayName = "bad"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "bad.vmdk"\n');
    writeFileSync(join(d, "bad.vmdk"), '# Disk DescriptorFile\ncreateType="monolithicFlat"\nRW 8 FLAT "/etc/passwd" 0\n');
    const r = await cli("inspect", "--json", join(d, "bad.vmx"));
    expect(r.status).toBe(0);
    const vm = JSON.parse(r.out);
    expect(vm.concerns[0]).toMatchObject({ id: "vmdk.path.outside", severity: "critical", device: "scsi0:0" });
    expect(vm.diskFacts[0].error).toMatchObject({ code: "vmdk.path.outside", line: 3 });
  });

  it("bin/ferry inspect shows a renamed disk's size and allocation, with an info note and no critical concern", () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-cli-renamed-"));
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(d, "old-name.vmdk"), "64M"]);
    execFileSync("qemu-io", ["-f", "vmdk", "-c", "write -P 0x5a 0 3M", join(d, "old-name.vmdk")], { stdio: "ignore" });
    renameSync(join(d, "old-name.vmdk"), join(d, "web01.vmdk"));
    writeFileSync(join(d, "web01.vmx"), 'displayName = "web01"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "web01.vmdk"\n');
    const out = execFileSync(resolve(__dirname, "../../bin/ferry"), ["inspect", join(d, "web01.vmx")], { encoding: "utf8" });
    expect(out).toMatch(/scsi0:0\s+web01\.vmdk\s+persistent\s+64 MiB \(3 MiB used\), monolithicSparse\n/);
    expect(out).toMatch(/INFO\s+web01\.vmdk names its data "old-name\.vmdk" \(line 8 of its embedded descriptor\), which does not exist: the disk was renamed; Ferry reads web01\.vmdk itself, as VMware and qemu-img do {2}\[vmdk\.extent\.renamed, lines 3, 4\]/);
    expect(out).not.toContain("CRITICAL");
    expect(out).not.toContain("unreadable");
  });

  it("disk shows one disk, and a refused disk exits 1 naming file and line", async () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-cli-disk-"));
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(d, "ok.vmdk"), "16M"]);
    const ok = await cli("disk", "--json", join(d, "ok.vmdk"));
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ createType: "monolithicSparse", capacityBytes: 16 * 1024 ** 2, allocatedBytes: 0, chain: [{ parentCid: "ffffffff" }] });
    expect((await cli("disk", join(d, "ok.vmdk"))).out).toMatch(/Size\s+16 MiB virtual/);
    writeFileSync(join(d, "nbd.vmdk"), '# Disk DescriptorFile\ncreateType="monolithicFlat"\nRW 8 FLAT "nbd:127.0.0.1:1" 0\n');
    const bad = await cli("disk", join(d, "nbd.vmdk"));
    expect(bad.status).toBe(1);
    expect(bad.err).toContain(`ferry: error: ${join(d, "nbd.vmdk")}:3: extent "nbd:127.0.0.1:1" is a protocol or drive name`);
  });

  it("maps an ESXi datastore path with --datastore", async () => {
    const d = mkdtempSync(join(tmpdir(), "ferry-cli-ds-"));
    mkdirSync(join(d, "guest"));
    mkdirSync(join(d, "ds1", "iso-and-disks"), { recursive: true });
    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(d, "ds1", "iso-and-disks", "shared.vmdk"), "8M"]);
    writeFileSync(join(d, "guest", "g.vmx"), 'scsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "/vmfs/volumes/ds1/iso-and-disks/shared.vmdk"\n');
    const without = JSON.parse((await cli("inspect", "--json", join(d, "guest", "g.vmx"))).out);
    expect(without.diskFacts[0].error).toMatchObject({ code: "vmdk.missing" });
    const mapped = await cli("inspect", "--json", "--datastore", `/vmfs/volumes/ds1=${join(d, "ds1")}`, join(d, "guest", "g.vmx"));
    expect(JSON.parse(mapped.out).diskFacts[0].facts.capacityBytes).toBe(8 * 1024 ** 2);
    expect((await cli("inspect", "--datastore", "nonsense", join(d, "guest", "g.vmx"))).err).toContain("--datastore takes");
  });
});

describe("ferry check", () => {
  it("reports qemu-img's version and block drivers", async () => {
    const r = await cli("check", "--json");
    expect(r.status).toBe(0);
    const c = JSON.parse(r.out);
    expect(c.version).toMatch(/^\d+\.\d+/);
    expect(c.formats).toEqual(expect.arrayContaining(["vmdk", "raw", "qcow2"]));
    expect((await cli("check")).out).toMatch(/^qemu-img \d+\.\d+/);
    expect((await cli("check", "--yaml")).status).toBe(1);
  });
});

describe("ferry -i vmx ... -o", () => {
  it("converts with [  t] stage lines, and --machine-readable prints one JSON event per line", async () => {
    const { makeGuest } = await import("../../test/fixtures/guest");
    const { PipelineEvent } = await import("../pipeline");
    const root = mkdtempSync(join(tmpdir(), "ferry-cli-conv-"));
    const g = makeGuest(root, "clig", [{ slot: "scsi0:0", sizeMiB: 16, dataMiB: 2 }]);
    const out = mkdtempSync(join(tmpdir(), "ferry-cli-out-"));
    const r = await cli("-i", "vmx", g, "-o", "local", "-os", out, "--copy-only", "-of", "qcow2");
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^\[ {3}0\.\d\] Opening the source\n/);
    expect(r.out).toMatch(/\[ +\d+\.\d\] Copying disk 1\/1\n/);
    expect(r.out).toContain(`${join(out, "clig-sda")}`);
    expect(r.err).toContain("ferry: warning: copy-only: the guest is neither inspected nor converted");
    const m = await cli("-i", "vmx", g, "-o", "json", "-os", out, "--copy-only", "--machine-readable", "-on", "clig2");
    expect(m.status).toBe(0);
    const events = m.out.trim().split("\n").map((l) => PipelineEvent.parse(JSON.parse(l)));
    expect(events[0]).toMatchObject({ type: "stage", name: "Opening the source", state: "started", index: 1 });
    expect(events.at(-1)).toMatchObject({ type: "result" });
    const again = await cli("-i", "vmx", g, "-o", "json", "-os", out, "--copy-only", "--machine-readable", "-on", "clig2");
    expect(again.status).toBe(1);
    expect(again.out.trim().split("\n").map((l) => JSON.parse(l)).at(-1)).toMatchObject({ type: "error", code: "output.exists" });
    const human = await cli("-i", "vmx", g, "-o", "local", "-os", out, "--copy-only");
    expect(human.status).toBe(1);
    expect(human.err).toContain(`ferry: error: ${join(out, "clig-sda")}: would overwrite`);
    expect(human.err).toContain("--overwrite");
  });
});

describe("ferry and Windows guests", () => {
  const wdir = mkdtempSync(join(tmpdir(), "ferry-cli-win-"));
  const wvmx = join(wdir, "win.vmx");
  writeFileSync(wvmx, ['displayName = "win"', 'guestOS = "windows9-64"', 'memsize = "2048"', 'scsi0.present = "TRUE"', 'scsi0.virtualDev = "lsisas1068"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "win.vmdk"', ""].join("\n"));
  execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(wdir, "win.vmdk"), "64M"]);

  it("inspect says Windows with its version", async () => {
    const m = await cli("inspect", wvmx);
    expect(m.status).toBe(0);
    expect(m.out).toMatch(/Guest OS\s+Windows 10, 64-bit: windows9-64 \(windows, win10, x86_64\)/);
  });

  it("--virtio-win that does not exist is refused before anything is copied, naming it", async () => {
    const m = await cli("-i", "vmx", wvmx, "-o", "local", "-os", join(wdir, "out"), "--virtio-win", join(wdir, "nope"));
    expect(m.status).toBe(1);
    expect(m.err).toContain(`ferry: error: ${join(wdir, "nope")}: virtio-win: ${join(wdir, "nope")} does not exist (ENOENT)`);
    expect(m.err).toMatch(/ferry: hint: install virtio-win/);
  });

  it("--virtio-win needs a value", async () => {
    const m = await cli("-i", "vmx", wvmx, "-o", "local", "-os", wdir, "--virtio-win");
    expect(m.status).toBe(1);
    expect(m.err).toContain("--virtio-win needs a value");
  });
});
