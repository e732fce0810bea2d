import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hostChoice, parseCapabilities } from "./capabilities";
import { chooseFirmware, parseFirmwareDescriptor, readFirmwareDescriptors } from "./firmware";
import { parsePoolInfo, parsePoolXml } from "./pool";
import { isConnectFailure, virshMessage, VirshError } from "./virsh";

const guest = (arch: string, machines: string, domains: string) => `  <guest>
    <os_type>hvm</os_type>
    <arch name='${arch}'>
      <wordsize>64</wordsize>
      <emulator>/usr/bin/qemu-system-${arch}</emulator>
${machines}
${domains}
    </arch>
  </guest>`;

const DEBIAN12 = `<capabilities>
  <host><cpu><arch>x86_64</arch></cpu></host>
${guest("i686", "      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>", "      <domain type='qemu'/>")}
${guest("x86_64", "      <machine maxCpus='255'>pc-i440fx-7.2</machine>\n      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>\n      <machine maxCpus='288'>pc-q35-5.2</machine>\n      <machine maxCpus='288'>pc-q35-7.2</machine>\n      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>", "      <domain type='qemu'/>\n      <domain type='kvm'/>")}
</capabilities>`;

describe("parseCapabilities and hostChoice", () => {
  it("takes kvm when offered and the machine q35 names", () => {
    const caps = parseCapabilities(DEBIAN12);
    expect(caps.get("x86_64")!.domainTypes).toEqual(["qemu", "kvm"]);
    expect(hostChoice(caps, "qemu:///system")).toEqual({ domainType: "kvm", machine: "pc-q35-7.2" });
  });

  it("falls back to qemu (TCG) without kvm, and to the newest pc-q35-X.Y without the alias", () => {
    const caps = parseCapabilities(`<capabilities>${guest("x86_64", "<machine>pc-q35-7.2</machine><machine>pc-q35-10.0</machine><machine>pc-q35-9.2</machine>", "<domain type='qemu'/>")}</capabilities>`);
    expect(hostChoice(caps, "u")).toEqual({ domainType: "qemu", machine: "pc-q35-10.0" });
  });

  it("refuses a host without x86_64, without kvm or qemu, or without q35", () => {
    expect(() => hostChoice(parseCapabilities(`<capabilities>${guest("aarch64", "<machine>virt</machine>", "<domain type='qemu'/>")}</capabilities>`), "qemu+ssh://arm/system")).toThrow(expect.objectContaining({ code: "libvirt.no-x86_64", message: expect.stringContaining("qemu+ssh://arm/system offers no x86_64 hvm guests (its capabilities list aarch64)") }));
    expect(() => hostChoice(parseCapabilities(`<capabilities>${guest("x86_64", "<machine>pc-q35-7.2</machine>", "<domain type='xen'/>")}</capabilities>`), "u")).toThrow(expect.objectContaining({ code: "libvirt.no-domain-type" }));
    expect(() => hostChoice(parseCapabilities(`<capabilities>${guest("x86_64", "<machine canonical='pc-i440fx-7.2'>pc</machine>", "<domain type='kvm'/>")}</capabilities>`), "u")).toThrow(expect.objectContaining({ code: "libvirt.no-q35" }));
  });

  it("ignores what is not an hvm guest, and survives garbage", () => {
    expect(parseCapabilities("<capabilities><guest><os_type>xen</os_type><arch name='x86_64'><domain type='xen'/></arch></guest></capabilities>").size).toBe(0);
    expect(parseCapabilities("not xml at all <guest>").size).toBe(0);
  });
});

const descriptor = (o: { code: string; vars: string; features: string[]; machines?: string[]; device?: string; types?: string[] }) =>
  JSON.stringify({
    description: "test",
    "interface-types": o.types ?? ["uefi"],
    mapping: { device: o.device ?? "flash", executable: { filename: o.code, format: "raw" }, "nvram-template": { filename: o.vars, format: "raw" } },
    targets: [{ architecture: "x86_64", machines: o.machines ?? ["pc-q35-*"] }],
    features: o.features,
  });

describe("firmware descriptors", () => {
  const plain = parseFirmwareDescriptor("60-plain.json", descriptor({ code: "/fw/CODE.fd", vars: "/fw/VARS.fd", features: ["acpi-s3", "amd-sev"], machines: ["pc-i440fx-*", "pc-q35-*"] }))!;
  const secureEmpty = parseFirmwareDescriptor("50-secure.json", descriptor({ code: "/fw/CODE.secboot.fd", vars: "/fw/VARS.fd", features: ["requires-smm", "secure-boot"] }))!;
  const secureMs = parseFirmwareDescriptor("40-secure-ms.json", descriptor({ code: "/fw/CODE.ms.fd", vars: "/fw/VARS.ms.fd", features: ["enrolled-keys", "requires-smm", "secure-boot"] }))!;

  it("picks the plain build without Secure Boot and the enrolled one with it", () => {
    const all = [plain, secureEmpty, secureMs];
    expect(chooseFirmware(all, "pc-q35-7.2", false)).toEqual({ code: "/fw/CODE.fd", varsTemplate: "/fw/VARS.fd", descriptor: "60-plain.json" });
    expect(chooseFirmware(all, "pc-q35-7.2", true)).toEqual({ code: "/fw/CODE.ms.fd", varsTemplate: "/fw/VARS.ms.fd", descriptor: "40-secure-ms.json" });
    // No enrolled keys: a Secure Boot guest's signed shim would not be trusted; none rather than the wrong one.
    expect(chooseFirmware([plain, secureEmpty], "pc-q35-7.2", true)).toBeNull();
    expect(chooseFirmware(all, "pc-i440fx-7.2", true)).toBeNull();
  });

  it("follows priority by file name, skips confidential-computing builds", () => {
    const sev = parseFirmwareDescriptor("10-sev.json", descriptor({ code: "/fw/SEV.fd", vars: "/fw/VARS.fd", features: ["amd-sev-es"] }))!;
    const early = parseFirmwareDescriptor("20-other.json", descriptor({ code: "/fw/OTHER.fd", vars: "/fw/OTHER_VARS.fd", features: [] }))!;
    expect(chooseFirmware([plain, sev, early], "pc-q35-8.0", false)!.code).toBe("/fw/OTHER.fd");
  });

  it("drops what Ferry cannot use: not UEFI, not flash, not raw, not JSON", () => {
    expect(parseFirmwareDescriptor("a.json", descriptor({ code: "/c", vars: "/v", features: [], types: ["bios"] }))).toBeNull();
    expect(parseFirmwareDescriptor("b.json", descriptor({ code: "/c", vars: "/v", features: [], device: "memory" }))).toBeNull();
    expect(parseFirmwareDescriptor("c.json", descriptor({ code: "/c", vars: "/v", features: [] }).replace(/"raw"/, '"qcow2"'))).toBeNull();
    expect(parseFirmwareDescriptor("d.json", "{ not json")).toBeNull();
    expect(parseFirmwareDescriptor("e.json", JSON.stringify({ "interface-types": ["uefi"] }))).toBeNull();
  });

  it("reads the folders as QEMU does: /etc overrides a name, an empty file hides it, missing files are left out", () => {
    const root = mkdtempSync(join(tmpdir(), "ferry-fw-"));
    const [usr, etc] = [join(root, "usr"), join(root, "etc")];
    mkdirSync(usr);
    mkdirSync(etc);
    const code = join(root, "CODE.fd");
    const vars = join(root, "VARS.fd");
    writeFileSync(code, "c");
    writeFileSync(vars, "v");
    writeFileSync(join(usr, "60-plain.json"), descriptor({ code: join(root, "MISSING.fd"), vars, features: [] }));
    writeFileSync(join(etc, "60-plain.json"), descriptor({ code, vars, features: [] }));
    writeFileSync(join(usr, "40-secure.json"), descriptor({ code, vars, features: ["enrolled-keys", "requires-smm", "secure-boot"] }));
    writeFileSync(join(etc, "40-secure.json"), "");
    writeFileSync(join(usr, "70-gone.json"), descriptor({ code: join(root, "GONE.fd"), vars, features: [] }));
    const read = readFirmwareDescriptors([usr, etc, join(root, "nowhere")]);
    expect(read.map((d) => [d.name, d.code])).toEqual([["60-plain.json", code]]);
  });

  it("finds Debian's OVMF through this host's descriptors", () => {
    const host = readFirmwareDescriptors();
    expect(chooseFirmware(host, "pc-q35-7.2", false)).toMatchObject({ code: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd" });
    expect(chooseFirmware(host, "pc-q35-7.2", true)).toMatchObject({ code: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" });
  });
});

describe("pools and virsh's messages", () => {
  it("reads a directory pool's type, name and folder, unescaped", () => {
    const xml = "<pool type='dir'>\n  <name>vm &amp; images</name>\n  <source>\n  </source>\n  <target>\n    <path>/srv/a&amp;b</path>\n  </target>\n</pool>";
    expect(parsePoolXml(xml)).toEqual({ type: "dir", name: "vm & images", path: "/srv/a&b" });
    expect(parsePoolXml("<pool type='rbd'><name>ceph</name><source><name>rbd</name></source></pool>")).toEqual({ type: "rbd", name: "ceph", path: null });
  });

  it("reads pool-info --bytes", () => {
    const text = "Name:           images\nUUID:           3190\nState:          running\nPersistent:     yes\nAutostart:      no\nCapacity:       270553174016\nAllocation:     53585645568\nAvailable:      216967528448\n";
    expect(parsePoolInfo(text)).toEqual({ state: "running", availableBytes: 216967528448, capacityBytes: 270553174016 });
    expect(parsePoolInfo("Name: x\nState:          inactive\n")).toEqual({ state: "inactive", availableBytes: null, capacityBytes: null });
  });

  it("keeps libvirt's words and tells a dead daemon from a failed request", () => {
    const dead = new VirshError([], "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/run/x/libvirt-sock': No such file or directory\n", 1);
    expect(virshMessage(dead.stderr)).toBe("failed to connect to the hypervisor; Failed to connect socket to '/run/x/libvirt-sock': No such file or directory");
    expect(isConnectFailure(dead)).toBe(true);
    expect(isConnectFailure(new VirshError([], "error: failed to get pool 'x'\nerror: Storage pool not found: no storage pool with matching name 'x'\n", 1))).toBe(false);
  });
});
