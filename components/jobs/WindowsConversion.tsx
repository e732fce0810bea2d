import type { GuestInspection, WindowsConversionReport } from "@/server/convert/guest";
import type { WindowsFacts } from "@/server/convert/windows-facts";
import { Badge } from "../ui";

/** A Windows guest's facts in the job page's inspection list. */
export function WindowsFactsRows({ guest, windows }: { guest: GuestInspection; windows: WindowsFacts }) {
  return (
    <>
      <dt className="font-medium">Windows</dt>
      <dd>
        {guest.product} {guest.majorVersion}.{guest.minorVersion}
        {windows.build ? ` build ${windows.build}` : ""}
        {windows.edition ? ` · ${windows.edition}` : ""} · {windows.variant} · {windows.osinfo}
      </dd>
      <dt className="font-medium">System root</dt>
      <dd className="font-mono text-xs">
        {windows.systemRoot} on {guest.root} · boots from {windows.bootPartition ?? "unknown"} · {windows.controlSet}
      </dd>
    </>
  );
}

/** What the Windows conversion wrote: devices, drivers, every registry value (with the old one) and the first-boot files. */
export function WindowsConversion({ report }: { report: WindowsConversionReport }) {
  return (
    <div className="mt-3 space-y-2 text-sm" aria-label="Conversion">
      <p>
        {report.devices === "virtio" ? <Badge tone="ok">virtio</Badge> : <Badge tone="info">emulated devices</Badge>}{" "}
        {report.devices === "virtio"
          ? `${report.blockDriver} from ${report.virtioWin} starts at boot; staged for the first boot: ${report.stagedDrivers.join(", ") || "nothing"}`
          : "No virtio-win drivers: the guest runs on SATA and e1000e with Windows' own drivers; storahci now starts at boot."}
      </p>
      {report.vmwareDisabled.length > 0 && <p>VMware services disabled: {report.vmwareDisabled.join(", ")}</p>}
      {report.staticIps.map((s) => (
        <p key={s.mac}>
          Static IPv4 {s.addresses.join(", ")} goes back on {s.nic} ({s.mac}) at first boot
        </p>
      ))}
      {report.unpairedStaticIps.map((s) => (
        <p key={s}>Not restored (set by hand): {s}</p>
      ))}
      <table className="w-full text-left text-xs" aria-label="Registry changes">
        <thead>
          <tr>
            <th className="pr-2">Key</th>
            <th className="pr-2">Value</th>
            <th className="pr-2">Now</th>
            <th className="pr-2">Before</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {report.registry.map((r) => (
            <tr key={`${r.key}\\${r.name}`} className="align-top">
              <td className="pr-2 font-mono break-all">{r.key}</td>
              <td className="pr-2 font-mono">{r.name}</td>
              <td className="pr-2 font-mono break-all">{r.value}</td>
              <td className="pr-2 font-mono break-all">{r.previous}</td>
              <td>{r.why}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.firstboot.files.map((f) => (
        <details key={f.path}>
          <summary className="font-mono text-xs">{f.path}</summary>
          <pre className="overflow-x-auto bg-slate-50 p-2 text-xs">{f.text}</pre>
        </details>
      ))}
    </div>
  );
}
