import type { TargetPlan } from "../plan";
import type { MetadataFiles } from "./output";

/** `-o json`: the disks plus NAME.json describing them, shaped like virt-v2v's. */
export function jsonMetadata(plan: TargetPlan, diskPaths: string[], files: MetadataFiles = { uefi: null }): string {
  const doc = {
    version: 1,
    name: plan.name,
    uuid: plan.uuid,
    memory: plan.memoryMiB * 1024 * 1024,
    vcpu: plan.vcpus,
    cpu_topology: plan.topology,
    firmware: plan.firmware,
    secure_boot: plan.secureBoot,
    ...(files.uefi ? { uefi: { code: files.uefi.firmware.code, vars: files.uefi.vars, "vars-template": files.uefi.firmware.varsTemplate } } : {}),
    machine: plan.machine,
    osinfo: plan.osinfo,
    disks: plan.disks.map((d, i) => ({
      "backing-filename": diskPaths[i],
      "backing-format": plan.format,
      bus: d.bus,
      dev: d.dev,
      source: d.sourceId,
      "virtual-size": d.capacityBytes,
    })),
    removables: plan.cdroms.map((c) => ({ type: "cdrom", bus: c.bus, dev: c.dev })),
    nics: plan.nics.map((n) => ({ mac: n.mac, model: n.model, vnet: n.network.name, "vnet-type": n.network.type })),
    guestcaps: { "block-bus": plan.disks[0]?.bus ?? "sata", "net-bus": plan.nics[0]?.model ?? "e1000e", converted: false },
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
