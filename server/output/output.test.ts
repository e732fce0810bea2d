import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TargetPlan } from "../plan";
import { readBootEntries } from "../qemu/ovmf-vars";
import { shellQuote } from "../shell";
import { jsonMetadata, libvirtXml, openOutput, qemuScript, xmlEscape } from ".";

const plan = (over: Partial<TargetPlan> = {}): TargetPlan =>
  TargetPlan.parse({
    name: "web01",
    vmxPath: "/nas/web01/web01.vmx",
    output: { mode: "local", dir: "/var/tmp" },
    format: "qcow2",
    allocation: "sparse",
    memoryMiB: 4096,
    vcpus: 4,
    topology: { sockets: 2, cores: 2, threads: 1 },
    firmware: "uefi",
    secureBoot: true,
    machine: "q35",
    uuid: "50115e16-9bdc-49d7-f171-53c4d7f91710",
    osinfo: "debian12",
    disks: [{ sourceId: "scsi0:0", sourcePath: "/nas/web01/web01.vmdk", capacityBytes: 1 << 30, allocatedBytes: 0, dev: "sda", bus: "sata", targetName: "web01-sda", sourceFiles: ["/nas/web01/web01.vmdk"], source: { uri: "/nas/web01/web01.vmdk", format: "vmdk" } }],
    cdroms: [{ sourceId: "ide1:0", dev: "sdb", bus: "sata" }],
    nics: [
      { sourceId: "ethernet0", mac: "00:50:56:00:00:01", model: "e1000e", network: { type: "network", name: "R&D <lab> 'west'" } },
      { sourceId: "ethernet1", mac: null, model: "e1000e", network: { type: "bridge", name: "br0" } },
    ],
    copyOnly: true,
    conversion: null,
    bootCheck: false,
    parallel: 1,
    overwrite: false,
    rateLimit: null,
    changes: [],
    concerns: [],
    ...over,
  });

describe("libvirt XML", () => {
  it("validates with virt-xml-validate, UEFI with Secure Boot included, names escaped", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-xml-"));
    const xml = libvirtXml(plan({ name: "web&01" }), ["/var/tmp/web&01-sda"]);
    expect(xml).toContain("<name>web&amp;01</name>");
    expect(xml).toContain("<source network='R&amp;D &lt;lab&gt; &apos;west&apos;'/>");
    expect(xml).toContain("<os firmware='efi'>");
    expect(xml).toContain("<feature enabled='yes' name='secure-boot'/>");
    expect(xml).toContain("<topology sockets='2' dies='1' cores='2' threads='1'/>");
    expect(xml).toContain("<backingStore/>");
    writeFileSync(join(dir, "d.xml"), xml);
    const v = spawnSync("virt-xml-validate", [join(dir, "d.xml")], { encoding: "utf8" });
    expect(v.stdout + v.stderr).toContain("validates");
    writeFileSync(join(dir, "bios.xml"), libvirtXml(plan({ firmware: "bios", secureBoot: false, topology: null, uuid: null }), ["/d"]));
    expect(spawnSync("virt-xml-validate", [join(dir, "bios.xml")], { encoding: "utf8" }).status).toBe(0);
  });

  it("-o libvirt: the host's domain type and machine, and its firmware descriptors' OVMF with the guest's own variables in the pool", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-xml-"));
    const host = {
      uri: "qemu:///system",
      pool: "images",
      poolPath: dir,
      domainType: "qemu" as const,
      machine: "pc-q35-7.2",
      firmware: { plain: { code: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd", descriptor: "60-edk2-x86_64.json" }, secure: { code: "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", descriptor: "40-edk2-x86_64-secure-enrolled.json" } },
    };
    const p = plan({ output: { mode: "libvirt", dir, libvirt: host }, overwrite: true });
    const o = openOutput(p);
    o.writeMetadata(null);
    const xml = readFileSync(o.stagedMetadata, "utf8");
    expect(xml).toMatch(/^<domain type='qemu'>/);
    expect(xml).toContain("<type arch='x86_64' machine='pc-q35-7.2'>hvm</type>");
    expect(xml).toContain("<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>");
    expect(xml).toContain(`<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>${join(dir, "web01_VARS.fd")}</nvram>`);
    writeFileSync(join(dir, "check.xml"), xml);
    expect(spawnSync("virt-xml-validate", [join(dir, "check.xml")], { encoding: "utf8" }).status).toBe(0);
    // Committed: the disks and the variables go into the pool's folder; the XML is libvirt's to keep.
    writeFileSync(o.stagedDisks[0]!, "disk");
    const files = o.commit();
    expect(files.map((f) => [f.path, f.kind])).toEqual([[join(dir, "web01-sda"), "disk"], [join(dir, "web01_VARS.fd"), "nvram"]]);
    expect(readdirSync(dir).sort()).toEqual(["check.xml", "web01-sda", "web01_VARS.fd"]);
    // A host whose descriptors offer no Secure Boot build with Microsoft's keys is refused by name.
    const none = plan({ output: { mode: "libvirt", dir, libvirt: { ...host, firmware: { plain: host.firmware.plain, secure: null } } }, overwrite: true });
    expect(() => openOutput(none).writeMetadata(null)).toThrow(expect.objectContaining({ code: "libvirt.no-firmware", message: expect.stringContaining("Secure Boot and the libvirt host at qemu:///system describes no such firmware for pc-q35-7.2") }));
  });

  it("puts a converted guest's virtio devices on fixed PCIe buses: NIC i on bus i+1 (the enp<i+1>s0 the conversion wrote), then disks", () => {
    const converted = plan({
      copyOnly: false,
      firmware: "bios",
      secureBoot: false,
      cdroms: [],
      disks: [0, 1].map((i) => ({ sourceId: `scsi0:${i}`, sourcePath: `/nas/web01/web01_${i}.vmdk`, capacityBytes: 1 << 30, allocatedBytes: 0, dev: `vd${"ab"[i]}`, bus: "virtio" as const, targetName: `web01-vd${"ab"[i]}`, sourceFiles: [], source: { uri: `/nas/web01/web01_${i}.vmdk`, format: "vmdk" as const } })),
      nics: [{ sourceId: "ethernet0", mac: "00:50:56:00:00:01", model: "virtio", network: { type: "network", name: "default" } }],
      conversion: { devices: { sda: "vda", sdb: "vdb" }, nics: [{ sourceId: "ethernet0", mac: "00:50:56:00:00:01", vmwareName: "ens192", kvmName: "enp1s0" }], virtioWin: null },
      bootCheck: true,
    });
    const xml = libvirtXml(converted, ["/o/web01-vda", "/o/web01-vdb"]);
    expect(xml).toContain("<controller type='pci' index='3' model='pcie-root-port'/>");
    expect(xml).toMatch(/<model type='virtio'\/>\n\s+<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'\/>/);
    expect(xml).toMatch(/<target dev='vdb' bus='virtio'\/>\n\s+<address type='pci' domain='0x0000' bus='0x03'/);
    const dir = mkdtempSync(join(tmpdir(), "ferry-xml-"));
    writeFileSync(join(dir, "v.xml"), xml);
    expect(spawnSync("virt-xml-validate", [join(dir, "v.xml")], { encoding: "utf8" }).status).toBe(0);
    const script = qemuScript(converted, ["/o/web01-vda", "/o/web01-vdb"]);
    expect(script).toContain("-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x2");
    expect(script).toContain("-device virtio-blk-pci,drive=vda,bus=rp2,addr=0x0,bootindex=1");
    expect(script).toContain("-device virtio-net-pci,netdev=net0,bus=rp1,addr=0x0,mac=00:50:56:00:00:01");
    writeFileSync(join(dir, "s.sh"), script);
    expect(spawnSync("sh", ["-n", join(dir, "s.sh")]).status).toBe(0);
  });

  it("escapes all five XML specials", () => {
    expect(xmlEscape(`<a href="x">&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  });
});

describe("qemu script", () => {
  it("quotes hostile names so the shell never runs them", () => {
    expect(shellQuote("a'b; rm -rf /")).toBe(`'a'\\''b; rm -rf /'`);
    const script = qemuScript(plan({ name: "x'; touch /tmp/pwned; '" }), ["/var/tmp/x'; touch /tmp/pwned; '-sda"]);
    const dir = mkdtempSync(join(tmpdir(), "ferry-sh-"));
    writeFileSync(join(dir, "s.sh"), script);
    expect(spawnSync("sh", ["-n", join(dir, "s.sh")]).status).toBe(0);
    expect(script).toContain(`-name 'x'\\''; touch /tmp/pwned; '\\'''`);
    expect(script).toContain("OVMF_CODE_4M.secboot.fd");
  });
});

describe("json", () => {
  it("describes disks and NICs", () => {
    const doc = JSON.parse(jsonMetadata(plan(), ["/var/tmp/web01-sda"]));
    expect(doc.disks).toEqual([{ "backing-filename": "/var/tmp/web01-sda", "backing-format": "qcow2", bus: "sata", dev: "sda", source: "scsi0:0", "virtual-size": 1 << 30 }]);
    expect(doc.nics[1]).toEqual({ mac: null, model: "e1000e", vnet: "br0", "vnet-type": "bridge" });
  });
});

describe("openOutput", () => {
  it("stages in a hidden folder and leaves nothing when aborted", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-out-"));
    const o = openOutput(plan({ output: { mode: "local", dir } }));
    expect(o.stagedDisks[0]).toMatch(new RegExp(`^${dir}/\\.ferry-web01-[^/]+/web01-sda$`));
    expect(o.finalDisks).toEqual([join(dir, "web01-sda")]);
    writeFileSync(o.stagedDisks[0]!, "x");
    o.writeMetadata();
    o.abort();
    o.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("commits atomically, and refuses a second commit", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-out-"));
    const o = openOutput(plan({ output: { mode: "json", dir } }));
    writeFileSync(o.stagedDisks[0]!, "disk");
    o.writeMetadata();
    expect(o.commit().map((f) => [f.path, f.kind, f.bytes])).toEqual([
      [join(dir, "web01-sda"), "disk", 4],
      [join(dir, "web01.json"), "metadata", expect.any(Number)],
      [join(dir, "web01_VARS.fd"), "nvram", statSync("/usr/share/OVMF/OVMF_VARS_4M.fd").size],
    ]);
    expect(readdirSync(dir).sort()).toEqual(["web01-sda", "web01.json", "web01_VARS.fd"]);
    expect(() => o.commit()).toThrow(expect.objectContaining({ code: "output.closed" }));
  });

  it("ships a UEFI guest's own OVMF variables with its boot entry, and points the libvirt XML and the qemu script at them", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-out-"));
    const entry = { description: "debian", path: "\\EFI\\debian\\shimx64.efi", partition: { number: 1, startLba: 2048, sizeLba: 204800, guid: "0b1e5c2a-3d4f-4a6b-8c9d-0e1f2a3b4c5d" }, disk: 0 };
    const conversion = { family: "linux" as const, kernel: "6.1.0-1-amd64", removedTools: [], initramfs: { file: "/boot/initrd.img", tool: "dracut" as const, rebuilt: false, reasons: [], added: [], present: [], appended: [] }, remapped: [], network: [], nics: [], lvmDevicesRemoved: [], uefi: { esp: "/dev/sda1", mountpoint: "/boot/efi", loader: entry.path, fallback: "installed" as const, fallbackFiles: [], bootEntry: entry }, serialConsole: true, grubRegenerated: true, selinuxRelabel: false };
    for (const [mode, file] of [["local", "web01.xml"], ["qemu", "web01.sh"]] as const) {
      const o = openOutput(plan({ output: { mode, dir }, overwrite: true }));
      writeFileSync(o.stagedDisks[0]!, "disk");
      o.writeMetadata(conversion);
      expect(o.stagedUefiVars).toMatch(/web01_VARS\.fd$/);
      const read = readBootEntries(readFileSync(o.stagedUefiVars!));
      // Secure Boot's template (Microsoft's keys) has entries of its own; the guest's comes first in BootOrder.
      const own = read.entries.find((x) => x.description === "debian");
      expect(own).toMatchObject({ devicePath: expect.stringContaining("\\EFI\\debian\\shimx64.efi"), partition: { number: 1, startLba: 2048, sizeLba: 204800 } });
      expect(read.order[0]).toBe(own!.number);
      o.commit();
      const text = readFileSync(join(dir, file), "utf8");
      expect(text).toContain(join(dir, "web01_VARS.fd"));
      expect(text).toContain("OVMF_CODE_4M");
    }
    const xml = join(dir, "web01.xml");
    expect(spawnSync("virt-xml-validate", [xml, "domain"]).status).toBe(0);
    expect(readFileSync(xml, "utf8")).toMatch(/<loader readonly='yes' secure='yes' type='pflash'>\/usr\/share\/OVMF\/OVMF_CODE_4M\.secboot\.fd<\/loader>/);
  });

  it("names a missing output folder", () => {
    expect(() => openOutput(plan({ output: { mode: "local", dir: "/nonexistent/out" } }))).toThrow(expect.objectContaining({ code: "output.no-dir", file: "/nonexistent/out" }));
  });
});
