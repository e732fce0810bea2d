import type { InspectedVm } from "../input/inspect-guest";
import { formatBytes } from "../units";
import type { DiskFacts } from "../vmdk";
import type { SourceVm } from "../vmx";
import { windowsVersionName } from "../vmx/guest-os";

/** `ferry inspect`: the guest as a VMware admin reads it. */
export function formatSummary(vm: SourceVm | InspectedVm): string {
  const facts = new Map(("diskFacts" in vm ? vm.diskFacts : []).map((r) => [r.id, r]));
  const out: string[] = [];
  const row = (label: string, value: string) => out.push(`  ${label.padEnd(12)}${value}`);
  out.push(`${vm.name}  (${vm.vmxPath})`);
  const os = vm.guestOS;
  row("Guest OS", os.id ? `${windowsVersionName(os) ? `${windowsVersionName(os)}: ` : ""}${os.id} (${[os.family, os.osinfo, os.arch].filter(Boolean).join(", ")})` : "not set");
  row("Firmware", vm.firmware === "uefi" ? `UEFI${vm.secureBoot ? ", Secure Boot" : ""}` : "BIOS");
  const t = vm.topology;
  row("CPUs", `${vm.vcpus} vCPU${vm.vcpus === 1 ? "" : "s"}${t ? ` (${t.sockets} socket${t.sockets === 1 ? "" : "s"} × ${t.cores} core${t.cores === 1 ? "" : "s"})` : ""}`);
  row("Memory", vm.memoryMiB % 1024 === 0 ? `${vm.memoryMiB / 1024} GiB` : `${vm.memoryMiB} MiB`);
  if (vm.hardwareVersion !== null) row("Hardware", `version ${vm.hardwareVersion}`);
  if (vm.uuid) row("BIOS UUID", vm.uuid);
  if (vm.annotation) row("Notes", vm.annotation.replace(/\n/g, " / "));
  if (vm.encoding.toUpperCase() !== "UTF-8") row("Encoding", vm.encoding);

  const section = (title: string, rows: string[]) => {
    out.push(`  ${title}`);
    if (rows.length === 0) out.push("    (none)");
    for (const r of rows) out.push(`    ${r}`);
  };
  section("Controllers", vm.controllers.map((c) => `${c.id.padEnd(10)}${c.model ?? c.bus}${c.declared ? "" : "  (no present line)"}${c.sharedBus && c.sharedBus !== "none" ? `  shared bus: ${c.sharedBus}` : ""}`));
  section("Disks", vm.disks.map((d) => {
    const r = facts.get(d.id);
    const f = r?.facts;
    const size = f ? `  ${formatBytes(f.capacityBytes)}${f.allocatedBytes !== null ? ` (${formatBytes(f.allocatedBytes)} used)` : ""}, ${f.createType}${f.chain.length > 1 ? `, ${f.chain.length - 1} snapshot${f.chain.length > 2 ? "s" : ""}` : ""}` : r?.error ? "  unreadable" : "";
    return `${d.id.padEnd(10)}${(d.file ?? "(no file)").padEnd(32)} ${d.mode}${size}`;
  }));
  section("CD-ROMs", vm.cdroms.map((c) => `${c.id.padEnd(10)}${c.kind === "image" ? (c.file ?? "(empty)") : `host drive ${c.file ?? ""}`.trim()}${c.clientDevice ? ", client device" : ""}${c.startConnected ? "" : ", not connected"}`));
  if (vm.floppies.length) section("Floppies", vm.floppies.map((fl) => `${fl.id.padEnd(10)}${fl.kind === "image" ? (fl.file ?? "(empty)") : "host drive"}`));
  section("NICs", vm.nics.map((n) => `${n.id.padEnd(10)}${(n.model ?? "default").padEnd(9)} ${(n.mac ?? "no MAC").padEnd(18)} ${n.network ? `"${n.network}"` : "(no network)"}${n.connectionType ? ` (${n.connectionType})` : ""}${n.macType === "static" ? ", static MAC" : ""}`));
  section("Concerns", vm.concerns.map((c) => `${c.severity.toUpperCase().padEnd(9)}${c.message}  [${c.id}${c.lines.length ? `, ${lineList(c.lines)}` : ""}]`));
  if (vm.warnings.length) section("Warnings", vm.warnings.map((w) => `${w.line ? `line ${w.line}: ` : ""}${w.message}`));
  return out.join("\n") + "\n";
}

/** `ferry disk`: one disk as an admin reads it. */
export function formatDisk(f: DiskFacts): string {
  const out: string[] = [f.file];
  const row = (label: string, value: string) => out.push(`  ${label.padEnd(12)}${value}`);
  row("Type", `${f.createType}${f.adapterType ? `, ${f.adapterType} adapter` : ""}${f.hardwareVersion !== null ? `, hardware version ${f.hardwareVersion}` : ""}`);
  row("Size", `${formatBytes(f.capacityBytes)} virtual (${f.capacityBytes} bytes)`);
  row("Allocated", f.allocatedBytes === null ? "unknown" : `${formatBytes(f.allocatedBytes)}${f.allocationSource ? ` (from ${f.allocationSource})` : ""}`);
  row("Chain", f.chain.map((l) => `${l.file.split("/").pop()} [CID ${l.cid ?? "?"}]`).join(" → "));
  out.push("  Extents");
  for (const e of f.extents) out.push(`    ${e.access} ${e.sectors} ${e.type}${e.file !== null ? ` "${e.file}"` : ""}${e.offset ? ` ${e.offset}` : ""}`);
  out.push("  Files");
  for (const x of f.files) out.push(`    ${x.path}  ${formatBytes(x.bytes)} (${x.role})`);
  out.push("  Concerns");
  if (f.concerns.length === 0) out.push("    (none)");
  for (const c of f.concerns) out.push(`    ${c.severity.toUpperCase().padEnd(9)}${c.message}  [${c.id}]`);
  return out.join("\n") + "\n";
}

function lineList(lines: number[]): string {
  if (lines.length === 1) return `line ${lines[0]}`;
  return lines.length <= 4 ? `lines ${lines.join(", ")}` : `lines ${lines.slice(0, 3).join(", ")}, ...`;
}
