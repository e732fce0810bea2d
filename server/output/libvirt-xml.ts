import type { TargetPlan } from "../plan";
import type { MetadataFiles } from "./output";
import { pciLayout } from "../plan/pci-layout";

/** XML text and attribute escaping: names come from an untrusted VMX. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** The libvirt domain for a plan whose disks are at `diskPaths` (in plan order). */
export function libvirtXml(plan: TargetPlan, diskPaths: string[], files: MetadataFiles = { uefi: null }): string {
  const e = xmlEscape;
  const uefi = files.uefi;
  const t = plan.topology;
  // -o libvirt: what the target host offers (kvm or qemu, its q35 version); -o local assumes KVM.
  const host = plan.output.libvirt ?? { domainType: "kvm", machine: plan.machine };
  const lines: string[] = [
    `<domain type='${host.domainType}'>`,
    `  <name>${e(plan.name)}</name>`,
    ...(plan.uuid ? [`  <uuid>${e(plan.uuid)}</uuid>`] : []),
    `  <memory unit='KiB'>${plan.memoryMiB * 1024}</memory>`,
    `  <currentMemory unit='KiB'>${plan.memoryMiB * 1024}</currentMemory>`,
    `  <vcpu placement='static'>${plan.vcpus}</vcpu>`,
    ...(t ? ["  <cpu mode='host-model'>", `    <topology sockets='${t.sockets}' dies='1' cores='${t.cores}' threads='${t.threads}'/>`, "  </cpu>"] : []),
    plan.firmware === "uefi" && !uefi ? "  <os firmware='efi'>" : "  <os>",
    `    <type arch='x86_64' machine='${e(host.machine)}'>hvm</type>`,
    // The guest's own variables file holds its boot entry: libvirt boots with it rather than a fresh copy.
    ...(uefi
      ? [`    <loader readonly='yes' secure='${plan.secureBoot ? "yes" : "no"}' type='pflash'>${e(uefi.firmware.code)}</loader>`, `    <nvram template='${e(uefi.firmware.varsTemplate)}'>${e(uefi.vars)}</nvram>`]
      : plan.firmware === "uefi"
        ? ["    <firmware>", `      <feature enabled='${plan.secureBoot ? "yes" : "no"}' name='secure-boot'/>`, "    </firmware>"]
        : []),
    "    <boot dev='hd'/>",
    "  </os>",
    "  <features>",
    "    <acpi/>",
    "    <apic/>",
    ...(plan.secureBoot ? ["    <smm state='on'/>"] : []),
    "  </features>",
    "  <clock offset='utc'/>",
    "  <on_poweroff>destroy</on_poweroff>",
    "  <on_reboot>restart</on_reboot>",
    "  <on_crash>restart</on_crash>",
    "  <devices>",
  ];
  // Fixed PCI addresses: the guest's interface names follow them (see pciLayout).
  const layout = pciLayout(plan);
  const pci = (bus: number) => `      <address type='pci' domain='0x0000' bus='0x${bus.toString(16).padStart(2, "0")}' slot='0x00' function='0x0'/>`;
  lines.push("    <controller type='pci' index='0' model='pcie-root'/>");
  for (let i = 1; i <= layout.rootPorts; i++) lines.push(`    <controller type='pci' index='${i}' model='pcie-root-port'/>`);
  plan.disks.forEach((d, i) => {
    const bus = layout.diskBus[i];
    lines.push(
      "    <disk type='file' device='disk'>",
      `      <driver name='qemu' type='${plan.format}'/>`,
      `      <source file='${e(diskPaths[i]!)}'/>`,
      "      <backingStore/>",
      `      <target dev='${d.dev}' bus='${d.bus}'/>`,
      ...(bus ? [pci(bus)] : []),
      "    </disk>",
    );
  });
  for (const c of plan.cdroms) {
    lines.push("    <disk type='file' device='cdrom'>", "      <driver name='qemu' type='raw'/>", `      <target dev='${c.dev}' bus='${c.bus}'/>`, "      <readonly/>", "    </disk>");
  }
  plan.nics.forEach((n, i) => {
    lines.push(
      `    <interface type='${n.network.type}'>`,
      ...(n.mac ? [`      <mac address='${n.mac}'/>`] : []),
      n.network.type === "bridge" ? `      <source bridge='${e(n.network.name)}'/>` : `      <source network='${e(n.network.name)}'/>`,
      `      <model type='${n.model}'/>`,
      pci(layout.nicBus[i]!),
      "    </interface>",
    );
  });
  lines.push(
    "    <serial type='pty'>",
    "      <target port='0'/>",
    "    </serial>",
    "    <console type='pty'>",
    "      <target type='serial' port='0'/>",
    "    </console>",
    "    <input type='tablet' bus='usb'/>",
    "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>",
    "    <video>",
    "      <model type='vga'/>",
    "    </video>",
    "  </devices>",
    "</domain>",
    "",
  );
  return lines.join("\n");
}
