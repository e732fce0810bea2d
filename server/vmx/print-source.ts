import type { SourceVm } from "./source-vm";

/**
 * virt-v2v's `--print-source` block, from Ferry's reading of the guest.
 * Field for field as virt-v2v 2.2 lays it out; where Ferry reads more
 * (static MACs, SCSI/SATA CD-ROMs, floppies) it prints more.
 */
export function printSource(vm: SourceVm): string {
  const t = vm.topology;
  const out: string[] = [
    "Source guest information (--print-source option):",
    "",
    `    source name: ${vm.name}`,
    "hypervisor type: vmware",
    `       VM genid: ${vm.genid ?? ""}`,
    `         memory: ${vm.memoryMiB * 1024 * 1024} (bytes)`,
    `       nr vCPUs: ${vm.vcpus}`,
    "     CPU vendor: ",
    "      CPU model: ",
    `   CPU topology: ${t ? `sockets: ${t.sockets} cores/socket: ${t.cores} threads/core: ${t.threads}` : ""}`,
    "   CPU features: ",
    `       firmware: ${vm.firmware}`,
    "        display: ",
    "          sound: ",
    "disks:",
  ];
  vm.disks.forEach((d, i) => out.push(`\t${i} [${d.bus}]`));
  out.push("removable media:");
  for (const c of vm.cdroms) {
    // virt-v2v numbers IDE slots across both channels: ide1:0 is slot 2.
    const slot = c.bus === "ide" ? c.controller * 2 + c.unit : c.unit;
    out.push(`\tCD-ROM [${c.bus}] in slot ${slot}`);
  }
  for (const fl of vm.floppies) out.push(`\tFloppy in slot ${fl.index}`);
  out.push("");
  out.push("NICs:");
  for (const n of vm.nics) {
    const kind = n.connectionType === "bridged" ? "Bridge" : "Network";
    const mac = n.mac ? ` mac: ${n.mac}` : "";
    const model = n.model ? ` [${n.model}]` : "";
    out.push(`\t${kind} "${n.network ?? n.id}"${mac}${model}`);
  }
  out.push("");
  return out.join("\n") + "\n";
}
