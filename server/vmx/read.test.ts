import { describe, expect, it } from "vitest";
import { readVmx, SourceVm } from ".";

function read(lines: string[], options: { vmxPath?: string; exists?: (p: string) => boolean } = {}) {
  const r = readVmx(new TextEncoder().encode(lines.join("\n") + "\n"), {
    vmxPath: options.vmxPath ?? "/nas/vms/web01/web01.vmx",
    exists: options.exists,
  });
  if (!r.ok) throw new Error(r.error.describe());
  // Whatever comes out must satisfy the published schema.
  return SourceVm.parse(r.vm);
}
const codes = (vm: SourceVm) => vm.warnings.map((w) => w.code);

describe("readVmx: the guest", () => {
  it("reads name, memory, vCPUs and topology", () => {
    const vm = read(['displayName = "web01"', 'memsize = "4096"', 'numvcpus = "8"', 'cpuid.coresPerSocket = "4"']);
    expect(vm).toMatchObject({ name: "web01", memoryMiB: 4096, vcpus: 8, topology: { sockets: 2, cores: 4, threads: 1 } });
    expect(vm.warnings).toEqual([]);
  });

  it("names a guest without displayName after its file, with a warning", () => {
    const vm = read(['memsize = "64"'], { vmxPath: "/nas/x/Old Server.VMX" });
    expect(vm.name).toBe("Old Server");
    expect(codes(vm)).toContain("vmx.name.missing");
  });

  it("assumes VMware's 32 MiB when memsize is missing, with a warning", () => {
    const vm = read(['displayName = "a"']);
    expect(vm.memoryMiB).toBe(32);
    expect(codes(vm)).toContain("vmx.memory.missing");
  });

  it("warns about a memsize that is not a number and uses the default", () => {
    const vm = read(['memsize = "lots"']);
    expect(vm.memoryMiB).toBe(32);
    expect(vm.warnings).toContainEqual(expect.objectContaining({ code: "vmx.value.not-number", line: 1 }));
  });

  it("defaults to 1 vCPU and no topology", () => {
    const vm = read(['memsize = "64"']);
    expect(vm.vcpus).toBe(1);
    expect(vm.topology).toBeNull();
  });

  it.each([
    ["uneven", '"3"'],
    ["zero", '"0"'],
  ])("gives no topology for %s cores per socket, with a warning", (_, cps) => {
    const vm = read(['numvcpus = "4"', `cpuid.coresPerSocket = ${cps}`]);
    expect(vm.topology).toBeNull();
    expect(codes(vm)).toContain("vmx.cpu.topology");
  });

  it("reads firmware without case and Secure Boot", () => {
    expect(read(['firmware = "EFI"', 'uefi.secureBoot.enabled = "true"'])).toMatchObject({ firmware: "uefi", secureBoot: true });
    expect(read(['firmware = "bios"'])).toMatchObject({ firmware: "bios", secureBoot: false });
  });

  it("assumes BIOS for an odd firmware value, with a warning", () => {
    const vm = read(['firmware = "coreboot"']);
    expect(vm.firmware).toBe("bios");
    expect(codes(vm)).toContain("vmx.firmware.unknown");
  });

  it.each([
    ["debian12-64", "linux", "debian12", "x86_64"],
    ["rhel9-64", "linux", "rhel9.0", "x86_64"],
    ["windows2019srv-64", "windows", "win2k19", "x86_64"],
    ["windows9-64", "windows", "win10", "x86_64"],
    ["winXPPro", "windows", "winxp", "i686"],
    ["freebsd13-64", "other", "freebsd13.0", "x86_64"],
    ["ubuntu-64", "linux", "ubuntu-unknown", "x86_64"],
  ])("maps guestOS %s to %s/%s", (id, family, osinfo, arch) => {
    expect(read([`guestOS = "${id}"`]).guestOS).toEqual({ id, family, osinfo, arch });
  });

  it("reports an unknown or missing guestOS as unknown", () => {
    expect(read(['guestOS = "martian-os"']).guestOS).toMatchObject({ family: "unknown", osinfo: null });
    expect(read(['memsize = "1"']).guestOS).toEqual({ id: null, family: "unknown", osinfo: null, arch: null });
  });

  it("reads uuid.bios as a canonical UUID, and warns about a broken one", () => {
    expect(read(['uuid.bios = "50 11 5e 16 9b dc 49 d7-f1 71 53 c4 d7 f9 17 10"']).uuid).toBe("50115e16-9bdc-49d7-f171-53c4d7f91710");
    const bad = read(['uuid.bios = "50 11"']);
    expect(bad.uuid).toBeNull();
    expect(codes(bad)).toContain("vmx.uuid.invalid");
  });

  it("reads the annotation with its escapes", () => {
    expect(read(['annotation = "line one|0Aline |22two|22"']).annotation).toBe('line one\nline "two"');
  });

  it("lays out the VM generation id as virt-v2v does", () => {
    const vm = read(['vm.genid = "1424963296993694319"', 'vm.genidX = "-5704120239402535687"']);
    expect(vm.genid).toBe("9f47526f-7c91-13c6-f9b4-4b2edde4d6b0");
    expect(codes(read(['vm.genid = "x"', 'vm.genidX = "1"']))).toContain("vmx.genid.invalid");
  });

  it("remembers the lines behind each value", () => {
    const vm = read(['displayName = "a"', 'memsize = "64"', 'ethernet0.present = "TRUE"', 'ethernet0.addressType = "static"', 'ethernet0.address = "00:50:56:00:00:01"']);
    expect(vm.provenance["memoryMiB"]).toEqual([2]);
    expect(vm.provenance["nics.0.mac"]).toEqual([4, 5]);
    expect(vm.provenance["nics.0"]).toEqual([3, 4, 5]);
  });
});

describe("readVmx: storage", () => {
  it("finds disks on every bus, in SCSI, NVMe, SATA, IDE order, numerically", () => {
    const vm = read([
      'ide0:0.present = "TRUE"', 'ide0:0.fileName = "ide.vmdk"',
      'sata0.present = "TRUE"', 'sata0:1.present = "TRUE"', 'sata0:1.fileName = "sata.vmdk"',
      'scsi0.present = "TRUE"', 'scsi0.virtualDev = "pvscsi"',
      'scsi0:10.present = "TRUE"', 'scsi0:10.fileName = "ten.vmdk"',
      'scsi0:9.present = "TRUE"', 'scsi0:9.fileName = "nine.vmdk"',
      'nvme0.present = "TRUE"', 'nvme0:0.present = "TRUE"', 'nvme0:0.fileName = "nvme.vmdk"',
      'ide0.present = "TRUE"',
    ]);
    expect(vm.disks.map((d) => d.id)).toEqual(["scsi0:9", "scsi0:10", "nvme0:0", "sata0:1", "ide0:0"]);
    expect(vm.controllers.map((c) => [c.id, c.model])).toEqual([
      ["scsi0", "pvscsi"], ["nvme0", "nvme"], ["sata0", "ahci"], ["ide0", null],
    ]);
  });

  it("keeps file names exactly and resolves them against the VMX folder", () => {
    const vm = read([
      'scsi0.present = "TRUE"',
      'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "Web01 Disk.VMDK"',
      'scsi0:1.present = "TRUE"', 'scsi0:1.fileName = "/vmfs/volumes/ds1/web01/data.vmdk"',
      'scsi0:2.present = "TRUE"', 'scsi0:2.fileName = "../shared/db.vmdk"',
    ]);
    expect(vm.disks.map((d) => [d.file, d.path])).toEqual([
      ["Web01 Disk.VMDK", "/nas/vms/web01/Web01 Disk.VMDK"],
      ["/vmfs/volumes/ds1/web01/data.vmdk", "/vmfs/volumes/ds1/web01/data.vmdk"],
      ["../shared/db.vmdk", "/nas/vms/shared/db.vmdk"],
    ]);
  });

  it("tells disks from CD-ROMs by deviceType, without case", () => {
    const vm = read([
      'scsi0.present = "TRUE"',
      'scsi0:0.present = "TRUE"', 'scsi0:0.deviceType = "SCSI-HARDDISK"', 'scsi0:0.fileName = "a.vmdk"',
      'scsi0:1.present = "TRUE"', 'scsi0:1.deviceType = "cdrom-image"', 'scsi0:1.fileName = "inst.iso"',
      'ide1:0.present = "TRUE"', 'ide1:0.deviceType = "atapi-cdrom"', 'ide1:0.fileName = "/dev/sr0"', 'ide1:0.startConnected = "FALSE"',
      'sata0.present = "TRUE"', 'sata0:0.present = "TRUE"', 'sata0:0.deviceType = "cdrom-raw"', 'sata0:0.clientDevice = "TRUE"',
    ]);
    expect(vm.disks.map((d) => d.id)).toEqual(["scsi0:0"]);
    expect(vm.cdroms.map((c) => [c.id, c.kind, c.file, c.startConnected, c.clientDevice])).toEqual([
      ["scsi0:1", "image", "inst.iso", true, false],
      ["sata0:0", "device", null, true, true],
      ["ide1:0", "device", "/dev/sr0", false, false],
    ]);
    expect(vm.cdroms[0]!.path).toBe("/nas/vms/web01/inst.iso");
  });

  it("reads an IDE .vmdk without deviceType as a disk, and skips other IDE files with a warning", () => {
    const vm = read(['ide0:0.present = "TRUE"', 'ide0:0.fileName = "old.VMDK"', 'ide0:1.present = "TRUE"', 'ide0:1.fileName = "x.iso"']);
    expect(vm.disks.map((d) => d.id)).toEqual(["ide0:0"]);
    expect(vm.warnings.filter((w) => w.code === "vmx.device.unknown-type").map((w) => w.line)).toEqual([3]);
  });

  it("drops the devices of a controller that is not present, with a warning", () => {
    const vm = read(['scsi1.present = "FALSE"', 'scsi1:0.present = "TRUE"', 'scsi1:0.fileName = "gone.vmdk"']);
    expect(vm.disks).toEqual([]);
    expect(codes(vm)).toContain("vmx.device.controller-absent");
  });

  it("keeps a disk whose controller has no present line, with a warning", () => {
    const vm = read(['scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"']);
    expect(vm.disks).toHaveLength(1);
    expect(vm.controllers[0]).toMatchObject({ id: "scsi0", declared: false });
    expect(codes(vm)).toContain("vmx.controller.undeclared");
  });

  it("drops a device whose present is FALSE", () => {
    const vm = read(['scsi0.present = "TRUE"', 'scsi0:0.present = "False"', 'scsi0:0.fileName = "a.vmdk"']);
    expect(vm.disks).toEqual([]);
  });

  it("reads the disk mode, persistent by default", () => {
    const vm = read(['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"', 'scsi0:0.mode = "Independent-Persistent"']);
    expect(vm.disks[0]!.mode).toBe("independent-persistent");
  });

  it("warns about a disk without a file name", () => {
    const vm = read(['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"']);
    expect(vm.disks[0]!.file).toBeNull();
    expect(codes(vm)).toContain("vmx.disk.no-file");
  });

  it("skips an unknown deviceType with a warning naming its line", () => {
    const vm = read(['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.deviceType = "tape-drive"']);
    expect(vm.disks).toEqual([]);
    expect(vm.warnings).toContainEqual(expect.objectContaining({ code: "vmx.device.unknown-type", line: 3 }));
  });

  it("reads floppy drives that are present", () => {
    const vm = read(['floppy0.present = "TRUE"', 'floppy0.fileType = "file"', 'floppy0.fileName = "boot.flp"', 'floppy1.fileName = "x"']);
    expect(vm.floppies.map((f) => [f.id, f.kind, f.path])).toEqual([["floppy0", "image", "/nas/vms/web01/boot.flp"]]);
  });
});

describe("readVmx: network adapters", () => {
  it("reads model, MAC, network and connection, ordered by index", () => {
    const vm = read([
      'ethernet10.present = "TRUE"', 'ethernet10.virtualDev = "E1000E"', 'ethernet10.addressType = "generated"', 'ethernet10.generatedAddress = "00:0C:29:AA:BB:CC"', 'ethernet10.networkName = "Backup LAN"',
      'ethernet2.present = "TRUE"', 'ethernet2.virtualDev = "vmxnet3"', 'ethernet2.addressType = "vpx"', 'ethernet2.generatedAddress = "00:50:56:01:02:03"', 'ethernet2.connectionType = "bridged"', 'ethernet2.vnet = "vmnet0"',
    ]);
    expect(vm.nics.map((n) => [n.id, n.index, n.model, n.mac, n.network, n.connectionType])).toEqual([
      ["ethernet2", 2, "vmxnet3", "00:50:56:01:02:03", "vmnet0", "bridged"],
      ["ethernet10", 10, "e1000e", "00:0c:29:aa:bb:cc", "Backup LAN", null],
    ]);
  });

  it("keeps a static MAC (virt-v2v drops it)", () => {
    const vm = read(['ethernet0.present = "TRUE"', 'ethernet0.addressType = "static"', 'ethernet0.address = "00:50:56:3F:00:10"']);
    expect(vm.nics[0]).toMatchObject({ mac: "00:50:56:3f:00:10", macType: "static" });
  });

  it("gives no MAC, never zeros, when it is unknown", () => {
    const vm = read(['ethernet0.present = "TRUE"', 'ethernet0.addressType = "generated"']);
    expect(vm.nics[0]!.mac).toBeNull();
    expect(codes(vm)).toContain("vmx.nic.no-mac");
    expect(read(['ethernet0.present = "TRUE"', 'ethernet0.address = "00:00:00:00:00:00"']).nics[0]!.mac).toBeNull();
  });

  it("warns about a malformed MAC", () => {
    const vm = read(['ethernet0.present = "TRUE"', 'ethernet0.generatedAddress = "00:50:56"']);
    expect(vm.nics[0]!.mac).toBeNull();
    expect(vm.warnings).toContainEqual(expect.objectContaining({ code: "vmx.nic.bad-mac", line: 2 }));
  });

  it("reports vmxnet with features 15 as vmxnet2, as libvirt does", () => {
    expect(read(['ethernet0.present = "TRUE"', 'ethernet0.virtualDev = "vmxnet"', 'ethernet0.features = "15"']).nics[0]!.model).toBe("vmxnet2");
  });

  it("drops an adapter that is not present", () => {
    expect(read(['ethernet0.present = "FALSE"', 'ethernet0.networkName = "x"']).nics).toEqual([]);
  });
});

describe("readVmx: concerns", () => {
  it.each([
    ["vmx.tpm.present", "warning", ['vtpm.present = "TRUE"']],
    ["vmx.pci.passthrough", "critical", ['pciPassthru0.present = "TRUE"', 'pciPassthru0.id = "0000:3b:00.0"']],
    ["vmx.usb.controller", "info", ['usb.present = "TRUE"']],
    ["vmx.cpu.hotadd", "info", ['vcpu.hotadd = "TRUE"']],
    ["vmx.memory.hotadd", "info", ['mem.hotadd = "TRUE"']],
    ["vmx.cpu.affinity", "warning", ['sched.cpu.affinity = "0,1"']],
    ["vmx.numa.affinity", "warning", ['numa.nodeAffinity = "0"']],
    ["vmx.scsi.shared-bus", "warning", ['scsi1.present = "TRUE"', 'scsi1.sharedBus = "physical"']],
    ["vmx.disk.raw-device", "critical", ['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.deviceType = "rawDisk"', 'scsi0:0.fileName = "lun-rdm.vmdk"']],
    ["vmx.disk.independent", "warning", ['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"', 'scsi0:0.mode = "independent-nonpersistent"']],
    ["vmx.disk.snapshot", "info", ['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a-000002.vmdk"']],
    ["vmx.disk.same-file", "warning", ['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"', 'scsi0:1.present = "TRUE"', 'scsi0:1.fileName = "a.vmdk"']],
    ["vmx.encrypted", "critical", ['encryption.keySafe = "vmware:key/list/..."']],
    ["vmx.scsi.passthrough", "warning", ['scsi0.present = "TRUE"', 'scsi0:3.present = "TRUE"', 'scsi0:3.deviceType = "scsi-passthru"']],
    ["vmx.disk.none", "warning", ['memsize = "64"']],
    ["vmx.firmware.secure-boot", "info", ['firmware = "efi"', 'uefi.secureBoot.enabled = "TRUE"']],
    ["vmx.port.not-migrated", "info", ['serial0.present = "TRUE"', 'serial0.fileType = "pipe"']],
    ["vmx.shared-folder", "info", ['sharedFolder0.present = "TRUE"']],
  ])("raises %s (%s)", (id, severity, lines) => {
    const vm = read(lines as string[]);
    const c = vm.concerns.find((x) => x.id === id);
    expect(c, JSON.stringify(vm.concerns)).toBeDefined();
    expect(c!.severity).toBe(severity);
    if (id !== "vmx.disk.none") expect(c!.lines.length).toBeGreaterThan(0);
  });

  it("raises none for a plain guest", () => {
    const vm = read(['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"', 'usb.present = "FALSE"', 'vtpm.present = "FALSE"', 'sched.cpu.affinity = "all"']);
    expect(vm.concerns).toEqual([]);
  });

  it("names a missing disk file (critical) and a missing ISO (info) when told what exists", () => {
    const vm = read(
      ['scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "here.vmdk"', 'scsi0:1.present = "TRUE"', 'scsi0:1.fileName = "gone.vmdk"', 'ide1:0.present = "TRUE"', 'ide1:0.deviceType = "cdrom-image"', 'ide1:0.fileName = "gone.iso"'],
      { exists: (p) => p.endsWith("/here.vmdk") },
    );
    expect(vm.concerns.map((c) => [c.id, c.severity, c.device])).toEqual([
      ["vmx.disk.missing", "critical", "scsi0:1"],
      ["vmx.cdrom.missing", "info", "ide1:0"],
    ]);
  });
});

describe("readVmx: errors", () => {
  it("returns a typed error, never throws, for what is not a VMX", () => {
    const r = readVmx(new TextEncoder().encode("# Disk DescriptorFile\n"), { vmxPath: "/nas/a.vmx" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.toJSON()).toMatchObject({ code: "vmx.is-vmdk", file: "/nas/a.vmx", line: 1 });
  });
});
