import type { TargetPlan } from "../plan";
import { pciLayout } from "../plan/pci-layout";
import { diskDevice, nicDevice, rootPortDevices } from "../qemu/devices";
import { shellQuote } from "../shell";
import type { MetadataFiles } from "./output";

/** `-o qemu`: a script that boots the guest with qemu directly. */
export function qemuScript(plan: TargetPlan, diskPaths: string[], files: MetadataFiles = { uefi: null }): string {
  const q = shellQuote;
  const t = plan.topology;
  const args: string[] = [
    `-name ${q(plan.name)}`,
    `-machine q35,accel=kvm:tcg${plan.secureBoot ? ",smm=on" : ""}`,
    ...(plan.secureBoot ? ["-global driver=cfi.pflash01,property=secure,value=on"] : []),
    "-cpu host",
    `-m ${plan.memoryMiB}`,
    `-smp ${plan.vcpus}${t ? `,sockets=${t.sockets},cores=${t.cores},threads=${t.threads}` : ""}`,
    ...(plan.uuid ? [`-uuid ${plan.uuid}`] : []),
  ];
  if (plan.firmware === "uefi") {
    args.push('-drive if=pflash,format=raw,readonly=on,file="$ovmf_code"', '-drive if=pflash,format=raw,file="$ovmf_vars"');
  }
  // The same PCI layout as the libvirt XML and the boot check: interface names follow it.
  const layout = pciLayout(plan);
  for (const port of rootPortDevices(layout.rootPorts)) args.push(`-device ${port}`);
  let sata = 0;
  plan.disks.forEach((d, i) => {
    const device = diskDevice({ bus: d.bus, pciBus: layout.diskBus[i] ?? null }, d.dev, d.bus === "virtio" ? 0 : sata++, i === 0);
    args.push(`-drive file=${q(diskPaths[i]!)},format=${plan.format},if=none,id=${d.dev}`, `-device ${device}`);
  });
  plan.cdroms.forEach((c) => {
    args.push(`-drive if=none,id=${c.dev},media=cdrom,readonly=on`, `-device ide-cd,drive=${c.dev},bus=ide.${sata++}`);
  });
  plan.nics.forEach((n, i) => {
    const netdev = n.network.type === "bridge" ? `bridge,id=net${i},br=${q(n.network.name)}` : `user,id=net${i}`;
    args.push(`-netdev ${netdev}`, `-device ${nicDevice(n, `net${i}`, layout.nicBus[i]!)}`);
  });
  args.push("-serial stdio", "-vnc 127.0.0.1:0");
  // The guest's own variables (with its boot entry) when Ferry wrote them; else a fresh copy of OVMF's.
  const uefi = files.uefi
    ? [`ovmf_code=\${OVMF_CODE:-${q(files.uefi.firmware.code)}}`, `ovmf_vars=\${OVMF_VARS:-${q(files.uefi.vars)}}`, ""]
    : plan.firmware === "uefi"
      ? [
          `ovmf_code=\${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE${plan.secureBoot ? "_4M.secboot" : "_4M"}.fd}`,
          `ovmf_vars=\${OVMF_VARS:-${q(`${diskPaths[0] ?? plan.name}.vars`)}}`,
          `[ -f "$ovmf_vars" ] || cp /usr/share/OVMF/OVMF_VARS_4M${plan.secureBoot ? ".ms" : ""}.fd "$ovmf_vars"`,
          "",
        ]
      : [];
  return [
    "#!/bin/sh -",
    `# ${plan.name}: converted from ${plan.vmxPath} by Ferry.`,
    "# Runs the guest with qemu directly; networks: user mode, or the bridge named.",
    "set -e",
    "",
    ...uefi,
    `exec qemu-system-x86_64 \\`,
    ...args.map((a, i) => `  ${a}${i < args.length - 1 ? " \\" : ""}`),
    "",
  ].join("\n");
}
