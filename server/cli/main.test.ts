import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
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

function cli(...args: string[]) {
  let out = "";
  let err = "";
  const status = run(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { status, out, err };
}

describe("ferry CLI", () => {
  it("inspect prints a readable summary", () => {
    const r = cli("inspect", vmx);
    expect(r.status).toBe(0);
    expect(r.out).toContain("db01 é");
    expect(r.out).toMatch(/CPUs\s+4 vCPUs \(2 sockets × 2 cores\)/);
    expect(r.out).toMatch(/Firmware\s+UEFI/);
    expect(r.out).toMatch(/scsi0:0\s+db01\.vmdk/);
    expect(r.out).toContain("00:50:56:12:34:56");
    expect(r.out).toMatch(/line 3: value of memsize is not quoted/);
  });

  it("inspect --json prints the SourceVm", () => {
    const r = cli("inspect", "--json", vmx);
    expect(r.status).toBe(0);
    const vm = SourceVm.parse(JSON.parse(r.out));
    expect(vm).toMatchObject({ name: "db01 é", memoryMiB: 8192, firmware: "uefi", encoding: "windows-1252" });
    expect(vm.nics[0]).toMatchObject({ mac: "00:50:56:12:34:56", macType: "static", network: "Prod", model: "vmxnet3" });
  });

  it("prints virt-v2v's --print-source block", () => {
    const r = cli("-i", "vmx", vmx, "--print-source");
    expect(r.status).toBe(0);
    expect(r.out).toContain("    source name: db01 é\n");
    expect(r.out).toContain("         memory: 8589934592 (bytes)\n");
    expect(r.out).toContain("   CPU topology: sockets: 2 cores/socket: 2 threads/core: 1\n");
    expect(r.out).toContain("       firmware: uefi\n");
    expect(r.out).toContain("disks:\n\t0 [scsi]\nremovable media:\n\tCD-ROM [ide] in slot 2\n");
    expect(r.out).toContain('\tBridge "Prod" mac: 00:50:56:12:34:56 [vmxnet3]\n');
  });

  it("reports errors as ferry: error: FILE[:LINE]: message, exit 1", () => {
    const desc = join(dir, "disk.vmx");
    writeFileSync(desc, "\n# Disk DescriptorFile\nversion=1\n");
    const r = cli("inspect", desc);
    expect(r.status).toBe(1);
    expect(r.err).toContain(`ferry: error: ${desc}:2: this is a VMDK disk descriptor, not a VMX file\n`);
    expect(r.err).toContain("ferry: hint:");
    expect(r.out).toBe("");
  });

  it("names a missing file", () => {
    const r = cli("inspect", join(dir, "missing.vmx"));
    expect(r.status).toBe(1);
    expect(r.err).toContain(`ferry: error: ${join(dir, "missing.vmx")}: no such file`);
  });

  it.each([
    [["inspect"], "exactly one"],
    [["inspect", "--yaml", vmx], "unknown option --yaml"],
    [["-i", "ova", vmx], "only -i vmx"],
    [[vmx], "-i vmx is required"],
    [["-i", "vmx", vmx, "-o", "local", "-os", dir], "not available yet"],
    [["-i"], "-i needs a value"],
  ])("refuses bad usage %j", (args, message) => {
    const r = cli(...(args as string[]));
    expect(r.status).toBe(1);
    expect(r.err).toContain(message);
    expect(r.err).toContain("usage:");
  });

  it("runs as bin/ferry from the repository", () => {
    const bin = resolve(__dirname, "../../bin/ferry");
    const ok = execFileSync(bin, ["inspect", "--json", vmx], { encoding: "utf8" });
    expect(JSON.parse(ok).name).toBe("db01 é");
    const bad = spawnSync(bin, ["inspect", join(dir, "missing.vmx")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^ferry: error: .*missing\.vmx: no such file$/m);
  });
});
