"use client";

import { useState, type ReactNode } from "react";
import type { InspectedVm } from "@/server/input/inspect-guest";
import { formatBytes } from "@/server/units";
import { windowsVersionName } from "@/server/vmx/guest-os";
import { Alert, Badge, Card, td, th } from "../ui";

/** A value that can show the VMX lines it came from. */
function Traced({ field, label, onShow, children }: { field: string; label: string; onShow: (field: string, label: string) => void; children: ReactNode }) {
  return (
    <button type="button" onClick={() => onShow(field, label)} title="Show the VMX lines this comes from" className="text-left underline decoration-dotted underline-offset-2 hover:text-sky-700 dark:hover:text-sky-300">
      {children}
    </button>
  );
}

/** The guest as a sysadmin reads it; every value can show the VMX lines behind it. */
export function GuestPreview({ vm, vmxLines }: { vm: InspectedVm; vmxLines: string[] }) {
  const [shown, setShown] = useState<{ label: string; lines: number[] } | null>(null);
  const show = (field: string, label: string) => setShown({ label, lines: vm.provenance[field] ?? [] });
  const t = vm.topology;
  const facts = new Map(vm.diskFacts.map((r) => [r.id, r]));
  const blocking = vm.concerns.filter((c) => c.severity === "critical");
  const groups = (["critical", "warning", "info"] as const).map((s) => [s, vm.concerns.filter((c) => c.severity === s)] as const);
  return (
    <div className="space-y-4">
      {blocking.length > 0 && (
        <Alert tone="critical" title={`${vm.name} cannot be imported`}>
          <ul className="list-disc pl-5">{blocking.map((c, i) => <li key={i}>{c.message}</li>)}</ul>
        </Alert>
      )}
      <Card title={`${vm.name}: hardware`} id={`hw-${vm.name}`}>
        <dl className="grid grid-cols-[9rem_1fr] gap-x-4 gap-y-1 text-sm sm:grid-cols-[9rem_1fr_9rem_1fr]">
          <dt className="text-slate-500">CPUs</dt>
          <dd><Traced onShow={show} field="topology" label="CPU topology">{t ? `${t.sockets} socket${t.sockets === 1 ? "" : "s"} × ${t.cores} core${t.cores === 1 ? "" : "s"} = ${vm.vcpus} vCPUs` : `${vm.vcpus} vCPU${vm.vcpus === 1 ? "" : "s"}`}</Traced></dd>
          <dt className="text-slate-500">Memory</dt>
          <dd><Traced onShow={show} field="memoryMiB" label="memory">{vm.memoryMiB % 1024 === 0 ? `${vm.memoryMiB / 1024} GiB` : `${vm.memoryMiB} MiB`}</Traced></dd>
          <dt className="text-slate-500">Firmware</dt>
          <dd><Traced onShow={show} field="firmware" label="firmware">{vm.firmware === "uefi" ? "UEFI" : "BIOS"}</Traced>{vm.secureBoot && <> · <Traced onShow={show} field="secureBoot" label="Secure Boot">Secure Boot</Traced></>}</dd>
          <dt className="text-slate-500">Guest OS</dt>
          <dd><Traced onShow={show} field="guestOS" label="guest OS">{vm.guestOS.id ?? "not set"}</Traced> <span className="text-slate-500">({windowsVersionName(vm.guestOS) ?? vm.guestOS.family})</span></dd>
          {vm.hardwareVersion !== null && (<><dt className="text-slate-500">Hardware</dt><dd><Traced onShow={show} field="hardwareVersion" label="hardware version">version {vm.hardwareVersion}</Traced></dd></>)}
          {vm.uuid && (<><dt className="text-slate-500">BIOS UUID</dt><dd className="font-mono text-xs"><Traced onShow={show} field="uuid" label="BIOS UUID">{vm.uuid}</Traced></dd></>)}
        </dl>
      </Card>
      <Card title="Controllers and disks" id={`disks-${vm.name}`}>
        <div className="overflow-x-auto">
          <table className="w-full text-sm" aria-label={`Disks of ${vm.name}`}>
            <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>Slot</th><th className={th}>Controller</th><th className={th}>File</th><th className={th}>Type</th><th className={th}>Capacity</th><th className={th}>Allocated</th><th className={th}>Snapshots</th></tr></thead>
            <tbody>
              {vm.disks.map((d, i) => {
                const r = facts.get(d.id);
                const f = r?.facts;
                const ctrl = vm.controllers.find((c) => c.bus === d.bus && c.index === d.controller);
                return (
                  <tr key={d.id} className="border-b border-slate-100 dark:border-slate-800">
                    <td className={td}>{d.id}</td>
                    <td className={td}>{d.bus}{ctrl?.model ? ` (${ctrl.model})` : ""}</td>
                    <td className={`${td} font-mono text-xs`}><Traced onShow={show} field={`disks.${i}.file`} label={`${d.id} file`}>{d.file ?? "(none)"}</Traced>{r?.error && <div className="font-sans text-red-700 dark:text-red-300">{r.error.message}</div>}</td>
                    <td className={td}>{f?.createType ?? "—"}</td>
                    <td className={td}>{f ? formatBytes(f.capacityBytes) : "—"}</td>
                    <td className={td}>{f?.allocatedBytes != null ? formatBytes(f.allocatedBytes) : "—"}</td>
                    <td className={td}>{f ? (f.chain.length > 1 ? `${f.chain.length - 1}: ${f.chain.map((l) => l.file.split("/").pop()).join(" → ")}` : "none") : "—"}</td>
                  </tr>
                );
              })}
              {vm.disks.length === 0 && <tr><td className={td} colSpan={7}>No disks.</td></tr>}
            </tbody>
          </table>
        </div>
        {vm.cdroms.length > 0 && (
          <p className="mt-2 text-sm">CD-ROMs: {vm.cdroms.map((c) => `${c.id} (${c.bus}) ${c.kind === "image" ? (c.file ?? "empty") : "host drive"}${c.startConnected ? "" : ", not connected"}`).join("; ")}</p>
        )}
      </Card>
      <Card title="Network adapters" id={`nics-${vm.name}`}>
        <table className="w-full text-sm" aria-label={`Network adapters of ${vm.name}`}>
          <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>NIC</th><th className={th}>Model</th><th className={th}>MAC</th><th className={th}>Network</th></tr></thead>
          <tbody>
            {vm.nics.map((n, i) => (
              <tr key={n.id} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}>{n.id}</td>
                <td className={td}><Traced onShow={show} field={`nics.${i}.model`} label={`${n.id} model`}>{n.model ?? "default"}</Traced></td>
                <td className={`${td} font-mono text-xs`}><Traced onShow={show} field={`nics.${i}.mac`} label={`${n.id} MAC`}>{n.mac ?? "none"}</Traced>{n.macType === "static" && <Badge tone="neutral">static</Badge>}</td>
                <td className={td}><Traced onShow={show} field={`nics.${i}.network`} label={`${n.id} network`}>{n.network ?? "none"}</Traced>{n.connectionType ? ` (${n.connectionType})` : ""}</td>
              </tr>
            ))}
            {vm.nics.length === 0 && <tr><td className={td} colSpan={4}>No network adapters.</td></tr>}
          </tbody>
        </table>
      </Card>
      {shown && (
        <aside aria-label="VMX lines" className="rounded-lg border border-sky-300 bg-white p-3 text-sm dark:border-sky-800 dark:bg-slate-900">
          <div className="flex items-center justify-between"><h3 className="font-semibold">Where the {shown.label} comes from</h3><button type="button" className="text-xs underline" onClick={() => setShown(null)}>Close</button></div>
          {shown.lines.length === 0 ? <p className="mt-1 text-slate-500">No line sets it: this is VMware&apos;s default.</p> : (
            <pre className="mt-2 overflow-x-auto font-mono text-xs">{shown.lines.map((n) => `${String(n).padStart(4)}  ${vmxLines[n - 1] ?? ""}`).join("\n")}</pre>
          )}
        </aside>
      )}
      <Card title="Concerns" id={`concerns-${vm.name}`}>
        {vm.concerns.length === 0 ? <p className="text-sm text-slate-500">None found.</p> : (
          <div className="space-y-3">
            {groups.filter(([, l]) => l.length).map(([sev, list]) => (
              <div key={sev}>
                <h3 className="mb-1 text-sm font-semibold capitalize">{sev} ({list.length})</h3>
                <ul className="space-y-1">
                  {list.map((c, i) => (
                    <li key={i} className="text-sm"><Badge tone={sev}>{sev}</Badge> {c.message}{c.lines.length > 0 && <span className="text-xs text-slate-500"> (VMX line{c.lines.length > 1 ? "s" : ""} {c.lines.slice(0, 4).join(", ")}{c.lines.length > 4 ? "…" : ""})</span>}</li>
                  ))}
                </ul>
              </div>
            ))}
          </div>
        )}
        {vm.warnings.length > 0 && (
          <details className="mt-3 text-sm"><summary>{vm.warnings.length} reader warning{vm.warnings.length === 1 ? "" : "s"}</summary>
            <ul className="list-disc pl-5">{vm.warnings.map((w, i) => <li key={i}>{w.line ? `line ${w.line}: ` : ""}{w.message}</li>)}</ul>
          </details>
        )}
      </Card>
    </div>
  );
}
