import type { TargetPlan } from "../plan";

/** POSIX shell single-quoting: the name and paths come from an untrusted VMX. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `-o qemu`: a script that boots the guest with qemu directly. */
export function qemuScript(plan: TargetPlan, diskPaths: string[]): string {
  const q = shellQuote;
  const t = plan.topology;
  const args: string[] = [
    `-name ${q(plan.name)}`,
    "-machine q35,accel=kvm:tcg",
    "-cpu host",
    `-m ${plan.memoryMiB}`,
    `-smp ${plan.vcpus}${t ? `,sockets=${t.sockets},cores=${t.cores},threads=${t.threads}` : ""}`,
    ...(plan.uuid ? [`-uuid ${plan.uuid}`] : []),
  ];
  if (plan.firmware === "uefi") {
    args.push('-drive if=pflash,format=raw,readonly=on,file="$ovmf_code"', '-drive if=pflash,format=raw,file="$ovmf_vars"');
  }
  args.push("-device ahci,id=ahci0");
  plan.disks.forEach((d, i) => {
    args.push(`-drive file=${q(diskPaths[i]!)},format=${plan.format},if=none,id=${d.dev}`, `-device ide-hd,drive=${d.dev},bus=ahci0.${i}${i === 0 ? ",bootindex=1" : ""}`);
  });
  plan.cdroms.forEach((c, i) => {
    args.push(`-drive if=none,id=${c.dev},media=cdrom,readonly=on`, `-device ide-cd,drive=${c.dev},bus=ahci0.${plan.disks.length + i}`);
  });
  plan.nics.forEach((n, i) => {
    const netdev = n.network.type === "bridge" ? `bridge,id=net${i},br=${q(n.network.name)}` : `user,id=net${i}`;
    args.push(`-netdev ${netdev}`, `-device ${n.model === "virtio" ? "virtio-net-pci" : n.model},netdev=net${i}${n.mac ? `,mac=${n.mac}` : ""}`);
  });
  args.push("-serial stdio", "-vnc 127.0.0.1:0");
  const uefi =
    plan.firmware === "uefi"
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
