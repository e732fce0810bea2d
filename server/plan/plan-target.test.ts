import { describe, expect, it } from "vitest";
import type { InspectedVm } from "../input/inspect-guest";
import { readVmx } from "../vmx";
import { devName, planTarget, suggestName } from ".";

/** A guest as inspectGuest returns it, with every disk readable. */
function guest(lines: string[]): InspectedVm {
  const r = readVmx(new TextEncoder().encode(lines.join("\n")), { vmxPath: "/nas/vm/g/g.vmx" });
  if (!r.ok) throw r.error;
  return {
    ...r.vm,
    diskFacts: r.vm.disks.map((d) => ({
      id: d.id,
      error: null,
      facts: { file: d.path!, createType: "monolithicSparse", capacityBytes: 1 << 30, allocatedBytes: 1 << 20, allocationSource: "grain-tables", adapterType: "lsilogic", hardwareVersion: 14, chain: [], extents: [], files: [], locks: [], concerns: [], source: { uri: d.path!, format: "vmdk" } },
    })),
  };
}

const base = [
  'displayName = "Web Server #1 (prod)"',
  'memsize = "2048"',
  'numvcpus = "2"',
  'scsi0.present = "TRUE"', 'scsi0.virtualDev = "pvscsi"',
  'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "web.vmdk"',
  'sata0.present = "TRUE"', 'sata0:0.present = "TRUE"', 'sata0:0.fileName = "data.vmdk"',
  'ide1:0.present = "TRUE"', 'ide1:0.deviceType = "cdrom-image"', 'ide1:0.fileName = "x.iso"',
  'ethernet0.present = "TRUE"', 'ethernet0.virtualDev = "vmxnet3"', 'ethernet0.networkName = "VM Network"', 'ethernet0.generatedAddress = "00:50:56:00:00:01"', 'ethernet0.addressType = "generated"', 'ethernet0.pciSlotNumber = "192"',
  'ethernet1.present = "TRUE"', 'ethernet1.virtualDev = "e1000e"', 'ethernet1.networkName = "DMZ"', 'ethernet1.address = "00:50:56:00:00:02"', 'ethernet1.addressType = "static"',
];

describe("planTarget for -o libvirt", () => {
  const host = { uri: "qemu:///system", pool: "default", poolPath: "/var/lib/libvirt/images", domainType: "qemu" as const, machine: "pc-q35-7.2", firmware: { plain: null, secure: null } };

  it("carries the host's facts and --start in the plan, and says why the domain type", () => {
    const p = planTarget(guest(base), { output: "libvirt", outputDir: host.poolPath, libvirt: host, start: true });
    expect(p.output).toEqual({ mode: "libvirt", dir: "/var/lib/libvirt/images", libvirt: host, start: true });
    expect(p.changes.find((c) => c.subject === "libvirt domain")).toMatchObject({ to: "type qemu, machine pc-q35-7.2, on qemu:///system, disks in pool default", reason: expect.stringContaining("no KVM") });
    expect(planTarget(guest(base), { outputDir: "/var/tmp" }).output).toEqual({ mode: "local", dir: "/var/tmp" });
  });

  it("refuses -o libvirt without the host's facts, and --start without -o libvirt", () => {
    expect(() => planTarget(guest(base), { output: "libvirt", outputDir: "/x" })).toThrow(expect.objectContaining({ code: "plan.libvirt" }));
    expect(() => planTarget(guest(base), { output: "local", outputDir: "/x", start: true })).toThrow(expect.objectContaining({ code: "plan.start", message: expect.stringContaining("--start needs -o libvirt (this is -o local)") }));
  });
});

describe("planTarget", () => {
  it("gives a converted guest virtio disks and NICs, the renames the conversion will make, and a boot check", () => {
    const p = planTarget(guest(base), { outputDir: "/var/tmp", excludeDisks: [] });
    expect(p.copyOnly).toBe(false);
    expect(p.bootCheck).toBe(true);
    expect(p.disks.map((d) => [d.sourceId, d.dev, d.bus])).toEqual([["scsi0:0", "vda", "virtio"], ["sata0:0", "vdb", "virtio"]]);
    expect(p.cdroms).toEqual([{ sourceId: "ide1:0", dev: "sda", bus: "sata" }]);
    expect(p.nics.map((n) => n.model)).toEqual(["virtio", "virtio"]);
    expect(p.conversion).toEqual({
      devices: { sda: "vda", sdb: "vdb" },
      nics: [
        { sourceId: "ethernet0", mac: "00:50:56:00:00:01", vmwareName: "ens192", kvmName: "enp1s0" },
        { sourceId: "ethernet1", mac: "00:50:56:00:00:02", vmwareName: null, kvmName: "enp2s0" },
      ],
      virtioWin: null,
    });
    expect(p.changes).toContainEqual(expect.objectContaining({ subject: "guest /dev/sda", from: "/dev/sda", to: "/dev/vda" }));
    // Names stay as the guest knew them on ESXi, pinned to the MAC; never paired by order.
    expect(p.changes).toContainEqual(expect.objectContaining({ subject: "ethernet0 in the guest", from: "ens192", to: "ens192, pinned to 00:50:56:00:00:01" }));
    expect(p.changes).toContainEqual(expect.objectContaining({ subject: "ethernet1 in the guest", to: "the same name, pinned to 00:50:56:00:00:02" }));
    // A left-out disk keeps its place in the guest's naming: the SATA disk was sdb and is now vda.
    const without = planTarget(guest(base), { outputDir: "/var/tmp", excludeDisks: ["scsi0:0"] });
    expect(without.conversion!.devices).toEqual({ sdb: "vda" });
    // The boot check can be turned off, or on for a copy-only guest.
    expect(planTarget(guest(base), { outputDir: "/var/tmp", bootCheck: false }).bootCheck).toBe(false);
    expect(planTarget(guest(base), { outputDir: "/var/tmp", copyOnly: true }).bootCheck).toBe(false);
    expect(planTarget(guest(base), { outputDir: "/var/tmp", copyOnly: true, bootCheck: true }).bootCheck).toBe(true);
  });

  it("plans disks, CD-ROMs and NICs with a reason for every change", () => {
    const p = planTarget(guest(base), { outputDir: "/var/tmp", copyOnly: true });
    expect(p.name).toBe("Web-Server-1-prod");
    expect(p.disks.map((d) => [d.sourceId, d.dev, d.bus, d.targetName])).toEqual([
      ["scsi0:0", "sda", "sata", "Web-Server-1-prod-sda"],
      ["sata0:0", "sdb", "sata", "Web-Server-1-prod-sdb"],
    ]);
    expect(p.cdroms).toEqual([{ sourceId: "ide1:0", dev: "sdc", bus: "sata" }]);
    expect(p.nics.map((n) => [n.mac, n.model, n.network])).toEqual([
      ["00:50:56:00:00:01", "e1000e", { type: "network", name: "VM Network" }],
      ["00:50:56:00:00:02", "e1000e", { type: "network", name: "DMZ" }],
    ]);
    const subjects = p.changes.map((c) => c.subject);
    expect(subjects).toEqual(expect.arrayContaining(["name", "scsi0:0 bus", "sata0:0 bus", "ide1:0 CD-ROM", "ethernet0 model", "ethernet0 network", "machine"]));
    expect(p.changes.find((c) => c.subject === "scsi0:0 bus")).toMatchObject({ from: "scsi (pvscsi)", to: "sata as sda", reason: expect.stringContaining("copy-only: the guest is not converted") });
    for (const c of p.changes) expect(c.reason.length).toBeGreaterThan(10);
  });

  it("maps networks: --mac first, then IN:OUT, then a default", () => {
    const p = planTarget(guest(base), { outputDir: "/o", networks: ["VM Network:lan", "fallback"], bridges: ["DMZ:br-dmz"], macs: ["00:50:56:00:00:01:bridge:br-mac"] });
    expect(p.nics.map((n) => n.network)).toEqual([{ type: "bridge", name: "br-mac" }, { type: "bridge", name: "br-dmz" }]);
    const q = planTarget(guest(base), { outputDir: "/o", networks: ["VM Network:lan", "fallback"] });
    expect(q.nics.map((n) => n.network)).toEqual([{ type: "network", name: "lan" }, { type: "network", name: "fallback" }]);
    const b = planTarget(guest(base), { outputDir: "/o", bridges: ["br0"] });
    expect(b.nics.map((n) => n.network)).toEqual([{ type: "bridge", name: "br0" }, { type: "bridge", name: "br0" }]);
  });

  it("refuses a malformed --mac and an invalid -on, suggesting a name", () => {
    expect(() => planTarget(guest(base), { outputDir: "/o", macs: ["00:50:56:00:00:01:lan"] })).toThrow(expect.objectContaining({ code: "plan.mac" }));
    expect(() => planTarget(guest(base), { outputDir: "/o", name: "bad/name" })).toThrow(expect.objectContaining({ code: "plan.name", hint: expect.stringContaining('"bad-name"') }));
    expect(planTarget(guest(base), { outputDir: "/o", name: "web01" }).name).toBe("web01");
  });

  it("carries UEFI, Secure Boot, topology and the source's concerns", () => {
    const p = planTarget(guest([...base, 'firmware = "efi"', 'uefi.secureBoot.enabled = "TRUE"', 'cpuid.coresPerSocket = "2"', 'vtpm.present = "TRUE"']), { outputDir: "/o" });
    expect(p).toMatchObject({ firmware: "uefi", secureBoot: true, topology: { sockets: 1, cores: 2, threads: 1 }, machine: "q35" });
    expect(p.changes.find((c) => c.subject === "firmware")).toMatchObject({ to: "OVMF UEFI with Secure Boot (Microsoft's keys enrolled)" });
    expect(p.changes.find((c) => c.subject === "UEFI boot entry")).toMatchObject({ to: expect.stringContaining("_VARS.fd with the guest's own entry"), reason: expect.stringContaining("fallback") });
    expect(p.concerns.map((c) => c.id)).toContain("vmx.tpm.present");
  });

  it("leaves unreadable disks out of the plan (their critical concern blocks the run)", () => {
    const g = guest(base);
    g.diskFacts[1] = { id: "sata0:0", facts: null, error: { code: "vmdk.missing", message: "gone", file: null, line: null, hint: null } };
    expect(planTarget(g, { outputDir: "/o" }).disks.map((d) => d.sourceId)).toEqual(["scsi0:0"]);
  });
});

describe("names", () => {
  it("names devices as the kernel does", () => {
    expect([0, 1, 25, 26, 27, 701, 702].map((i) => devName("sd", i))).toEqual(["sda", "sdb", "sdz", "sdaa", "sdab", "sdzz", "sdaaa"]);
  });

  it("suggests names libvirt and file systems accept", () => {
    expect(suggestName("Büro-PC \"Empfang\"")).toBe("Buro-PC-Empfang");
    expect(suggestName("../../etc/passwd")).toBe("etc-passwd");
    expect(suggestName("日本語")).toBe("guest");
    expect(suggestName("x".repeat(100))).toHaveLength(63);
  });
});

describe("planTarget for Windows guests", () => {
  const windows = (id: string) => [...base.filter((l) => !l.startsWith("sata0") && !l.startsWith("ethernet1")), `guestOS = "${id}"`];
  const win = windows("windows9-64");
  const tree = { path: "/usr/share/virtio-win", supports: ["win10/x86_64", "win2k19/x86_64"] };

  it("with virtio-win drivers for it: virtio disks and NICs, network boot proof, no Linux renames", () => {
    const p = planTarget(guest(win), { outputDir: "/var/tmp", virtioWin: tree });
    expect(p.disks.map((d) => [d.dev, d.bus])).toEqual([["vda", "virtio"]]);
    expect(p.nics.map((n) => n.model)).toEqual(["virtio"]);
    expect(p.conversion).toMatchObject({ devices: {}, virtioWin: "/usr/share/virtio-win" });
    expect(p.bootProof).toBe("network");
    expect(p.changes.find((c) => c.subject === "scsi0:0 bus")!.reason).toBe("virtio-blk is KVM's fastest disk; the conversion installs virtio-win's viostor from /usr/share/virtio-win as a boot-start driver");
    expect(p.changes.some((c) => c.subject.startsWith("guest /dev/"))).toBe(false);
    expect(p.changes.find((c) => c.subject === "boot check")!.to).toBe("a DHCP request or ARP announcement from the guest's MAC, with screenshots");
  });

  it("without virtio-win: SATA and e1000e, said plainly, with the AHCI fix named", () => {
    const p = planTarget(guest(win), { outputDir: "/var/tmp" });
    expect(p.disks.map((d) => [d.dev, d.bus])).toEqual([["sda", "sata"]]);
    expect(p.cdroms[0]!.dev).toBe("sdb");
    expect(p.nics.map((n) => n.model)).toEqual(["e1000e"]);
    expect(p.conversion!.virtioWin).toBeNull();
    const d = p.changes.find((c) => c.subject === "devices")!;
    expect([d.from, d.to]).toEqual(["VMware's paravirtual devices", "emulated SATA and e1000e"]);
    expect(d.reason).toMatch(/the guest runs on emulated devices \(SATA disks, an e1000e NIC\), slower than virtio; the conversion makes Windows' own AHCI driver \(storahci\) start at boot/);
  });

  it("a tree without this Windows, or a guestOS naming no version: SATA and e1000e with the reason", () => {
    const old = planTarget(guest(windows("windows7-64")), { outputDir: "/var/tmp", virtioWin: tree });
    expect(old.disks[0]!.bus).toBe("sata");
    expect(old.changes.find((c) => c.subject === "devices")!.reason).toMatch(/^\/usr\/share\/virtio-win has no viostor or vioscsi for win7 \(x86_64\)/);
    const unknown = planTarget(guest(windows("windows-unknown")), { outputDir: "/var/tmp", virtioWin: tree });
    expect(unknown.changes.find((c) => c.subject === "devices")!.reason).toMatch(/names no Windows version/);
  });

  it("a Windows guest without a NIC gets no boot check by default (nothing would prove it up), and the plan says why", () => {
    const p = planTarget(guest(windows("windows9-64").filter((l) => !l.startsWith("ethernet"))), { outputDir: "/var/tmp" });
    expect(p.bootCheck).toBe(false);
    expect(p.changes.find((c) => c.subject === "boot check")).toMatchObject({ to: "off", reason: "a Windows guest is proven up by its NIC on the network, and this one has none" });
  });

  it("copy-only Windows keeps the copy-only wording; Linux guests ignore virtio-win", () => {
    expect(planTarget(guest(win), { outputDir: "/var/tmp", copyOnly: true }).changes.some((c) => c.subject === "devices")).toBe(false);
    const linux = planTarget(guest([...base, 'guestOS = "debian12-64"']), { outputDir: "/var/tmp", virtioWin: tree });
    expect([linux.disks[0]!.bus, linux.bootProof, linux.conversion!.virtioWin]).toEqual(["virtio", "serial-login", null]);
  });
});
