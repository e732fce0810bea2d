/**
 * Ferry's reading of real-world VMX files against two oracles: libvirt's
 * expected domain XML and virt-v2v 2.2's --print-source. Every place where
 * Ferry deliberately reads differently is handled here by name and listed
 * in the README ("Where Ferry differs from libvirt and virt-v2v").
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readVmx, type SourceVm } from "../../server/vmx";
import { baseName, CORPUS, corpusPresent, readLibvirtXml, readPrintSource } from "./oracles";

const LIBVIRT = join(CORPUS, "libvirt");
const V2V = join(CORPUS, "virt-v2v-2.2.0");

if (!corpusPresent) {
  console.warn(`SKIPPED: the VMX corpus is not at ${CORPUS}; corpus tests did not run`);
}

const files = corpusPresent ? readdirSync(LIBVIRT).filter((f) => f.endsWith(".vmx")).sort() : [];

function read(file: string) {
  const path = join(LIBVIRT, file);
  const r = readVmx(new Uint8Array(readFileSync(path)), { vmxPath: path });
  if (!r.ok) throw new Error(`${file}: ${r.error.describe()}`);
  return r;
}

/** An IDE disk with no deviceType: libvirt lists it, virt-v2v does not (corpus README). */
const ideDiskWithoutType = (d: SourceVm["disks"][number]) => d.bus === "ide" && d.deviceType === null;

describe.skipIf(!corpusPresent)("VMX corpus", () => {
  it("holds the 82 files the corpus README describes", () => {
    expect(files.length).toBe(82);
  });

  describe.each(files)("%s", (file) => {
    const stem = file.replace(/\.vmx$/, "");
    const { vm, tree } = read(file);

    const v2vFile = join(V2V, `${stem}.print-source.txt`);
    it.runIf(existsSync(v2vFile))("agrees with virt-v2v --print-source", () => {
      const v = readPrintSource(v2vFile);
      expect(vm.name).toBe(v.name);
      expect(vm.memoryMiB * 1024 * 1024).toBe(v.memoryBytes);
      expect(vm.vcpus).toBe(v.vcpus);
      expect(vm.firmware).toBe(v.firmware);
      expect(vm.genid).toBe(v.genid);
      const t = vm.topology;
      expect(t ? `sockets: ${t.sockets} cores/socket: ${t.cores} threads/core: ${t.threads}` : "").toBe(v.topology);
      expect(vm.disks.filter((d) => !ideDiskWithoutType(d)).map((d) => d.bus)).toEqual(v.disks.map((d) => d.bus));
      expect(v.disks.map((d) => d.index)).toEqual(v.disks.map((_, i) => i));
      // virt-v2v lists only IDE CD-ROMs.
      expect(
        vm.cdroms.filter((c) => c.bus === "ide").map((c) => `CD-ROM [ide] in slot ${c.controller * 2 + c.unit}`),
      ).toEqual(v.removable);
      expect(vm.nics.length).toBe(v.nics.length);
      vm.nics.forEach((n, i) => {
        const o = v.nics[i]!;
        expect(o.kind, n.id).toBe(n.connectionType === "bridged" ? "Bridge" : "Network");
        // virt-v2v names the network after networkName, else the NIC itself.
        expect(o.name, n.id).toBe(tree.get(`${n.id}.networkName`)?.value ?? n.id);
        if (tree.get(`${n.id}.networkName`)) expect(n.network, n.id).toBe(o.name);
        // virt-v2v drops static MACs; Ferry keeps them.
        expect(o.mac?.toLowerCase() ?? null, n.id).toBe(n.macType === "static" ? null : n.mac);
        // vmxnet with features 15: libvirt says vmxnet2, virt-v2v vmxnet.
        expect(o.model, n.id).toBe(n.model === "vmxnet2" ? "vmxnet" : n.model);
      });
    });

    const xmlFile = join(LIBVIRT, `${stem}.xml`);
    it.runIf(existsSync(xmlFile))("agrees with libvirt's domain XML", () => {
      const x = readLibvirtXml(xmlFile);
      expect(vm.name).toBe(x.name);
      expect(vm.memoryMiB * 1024).toBe(x.memoryKiB);
      expect(vm.vcpus).toBe(x.vcpus);
      expect(vm.firmware).toBe(x.firmware);
      if (x.topology) expect(vm.topology).toEqual(x.topology);
      const key = (bus: string, c: number, u: number, f: string | null) => `${bus} ${c}:${u} ${f === null ? "-" : baseName(f)}`;
      expect(vm.disks.map((d) => key(d.bus, d.controller, d.unit, d.file)).sort()).toEqual(
        x.disks.filter((d) => d.device === "disk").map((d) => key(d.bus, d.controller, d.unit, d.file)).sort(),
      );
      // libvirt drops client-connected CD-ROMs, empties an image whose datastore is
      // unknown, and models a host drive (cdrom-raw) as a passed-through LUN.
      // A generic SCSI passthrough device is a LUN to libvirt too, but no CD-ROM: Ferry raises a concern.
      const passthrough = new Set(vm.concerns.filter((c) => c.id === "vmx.scsi.passthrough").map((c) => c.device));
      const libvirtCds = x.disks.filter(
        (d) => d.device === "cdrom" || (d.device === "lun" && !passthrough.has(`${d.bus}${d.controller}:${d.unit}`)),
      );
      const ours = vm.cdroms.filter((c) => !c.clientDevice);
      expect(ours.map((c) => key(c.bus, c.controller, c.unit, null)).sort()).toEqual(
        libvirtCds.map((d) => key(d.bus, d.controller, d.unit, null)).sort(),
      );
      for (const d of libvirtCds) {
        const c = ours.find((o) => o.bus === d.bus && o.controller === d.controller && o.unit === d.unit)!;
        if (d.file !== null && c.kind === "image") expect(baseName(c.file!)).toBe(baseName(d.file));
      }
      expect(vm.floppies.filter((f) => !f.clientDevice).map((f) => (f.file ? baseName(f.file) : null))).toEqual(
        x.disks.filter((d) => d.device === "floppy").map((d) => (d.file ? baseName(d.file) : null)),
      );
      expect(vm.nics.length).toBe(x.nics.length);
      vm.nics.forEach((n, i) => {
        const o = x.nics[i]!;
        // libvirt writes zeros for an unknown MAC; Ferry says null.
        expect(n.mac, n.id).toBe(o.mac === "00:00:00:00:00:00" ? null : (o.mac?.toLowerCase() ?? null));
        expect(n.model, n.id).toBe(o.model);
        if (o.source.bridge !== undefined) expect(n.network, n.id).toBe(o.source.bridge);
        if (o.type === "vds") expect(n.portgroup, n.id).toBe(o.source.portgroupid ?? null);
      });
    });

    it("reads without an unexplained warning", () => {
      // Every warning names a line or is one of the documented defaults.
      for (const w of vm.warnings) expect(w.line !== null || /missing|no-mac/.test(w.code), `${w.code}: ${w.message}`).toBe(true);
    });
  });

  it("reads the files libvirt refuses only because its mock lacks a datastore", () => {
    for (const file of ["harddisk-ide-file-missing-datastore.vmx", "harddisk-scsi-file-missing-file.vmx"]) {
      const path = join(LIBVIRT, file);
      const r = readVmx(new Uint8Array(readFileSync(path)), { vmxPath: path, exists: () => false });
      expect(r.ok, file).toBe(true);
      if (!r.ok) continue;
      expect(r.vm.disks).toHaveLength(1);
      expect(r.vm.concerns.map((c) => [c.id, c.severity])).toContainEqual(["vmx.disk.missing", "critical"]);
    }
  });
});
