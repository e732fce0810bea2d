"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useRef, useState } from "react";
import { describeOs } from "@/server/convert/guest";
import type { PipelineEvent } from "@/server/pipeline/events";
import { consoleText } from "@/server/qemu/console";
import { formatBytes } from "@/server/units";
import { useTRPC } from "../TrpcProvider";
import { Alert, Badge, btn, Card, ErrorBox } from "../ui";
import { useAtLeast } from "../Nav";
import { WindowsConversion, WindowsFactsRows } from "./WindowsConversion";

/** No bytes moved for this long while copying: shown as stalled. */
export const STALL_MS = 30_000;

type Tracked = { id: string; data: PipelineEvent };

const STATE_TONE = { queued: "neutral", running: "info", succeeded: "ok", failed: "critical", cancelled: "warning", interrupted: "warning" } as const;

export function JobStateBadge({ state }: { state: keyof typeof STATE_TONE }) {
  return <Badge tone={STATE_TONE[state]}>{state}</Badge>;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "—";
  const m = Math.floor(s / 60);
  return m ? `${m} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

type Guest = Extract<PipelineEvent, { type: "inspection" }>["guest"];
type Conversion = Extract<PipelineEvent, { type: "conversion" }>["report"];

/** What inspection found and what the conversion changed. */
function GuestCard({ guest, conversion }: { guest: Guest; conversion: Conversion | null }) {
  return (
    <Card title="Guest" id="guest-heading">
      <dl className="grid grid-cols-[9rem_1fr] gap-x-3 gap-y-1 text-sm" aria-label="Guest inspection">
        <dt className="font-medium">Operating system</dt><dd>{describeOs(guest)} ({guest.type}, {guest.arch})</dd>
        <dt className="font-medium">Root</dt><dd className="font-mono text-xs">{guest.root} · {guest.mountpoints.map((m) => `${m.mountpoint} ${m.device}`).join(", ")}</dd>
        {!guest.windows && <><dt className="font-medium">Kernels</dt><dd>{guest.kernels.map((k) => `${k.version} (virtio: ${Object.entries(k.virtio).filter(([, w]) => w !== "missing").map(([d]) => d).join(", ") || "none"})`).join("; ") || "none"}</dd></>}
        <dt className="font-medium">Free space</dt><dd>{guest.filesystems.map((f) => `${f.mountpoint} ${formatBytes(f.freeBytes)} of ${formatBytes(f.sizeBytes)}`).join(", ")}</dd>
        {guest.vmwareTools.length > 0 && <><dt className="font-medium">VMware tools</dt><dd>{guest.vmwareTools.join(", ")}</dd></>}
        {guest.windows && <WindowsFactsRows guest={guest} windows={guest.windows} />}
      </dl>
      {conversion?.family === "windows" && <WindowsConversion report={conversion} />}
      {conversion?.family === "linux" && (
        <>
          <ul className="mt-3 list-disc space-y-1 pl-5 text-sm" aria-label="Conversion">
            {conversion.removedTools.length > 0 && <li>Removed {conversion.removedTools.join(", ")}</li>}
            <li>
              {conversion.initramfs.rebuilt
                ? `Rebuilt ${conversion.initramfs.file} with ${conversion.initramfs.tool}${conversion.initramfs.added.length ? `, adding ${conversion.initramfs.added.join(", ")}` : ""}: ${conversion.initramfs.reasons.join("; ")}`
                : `${conversion.initramfs.file} already had ${conversion.initramfs.present.join(", ")}: not rebuilt`}
            </li>
            {conversion.initramfs.appended.length > 0 && <li>Added {conversion.initramfs.appended.join(", ")} to {conversion.initramfs.file} (an early archive, no rebuild)</li>}
            {conversion.lvmDevicesRemoved.length > 0 && <li>Removed LVM&apos;s stale device list {conversion.lvmDevicesRemoved.join(", ")} (it names the PVs by VMware&apos;s disk serials)</li>}
            {[...new Set(conversion.remapped.map((r) => `${r.from} → ${r.to}`))].map((r) => <li key={r}>Renamed {r} ({conversion.remapped.filter((x) => `${x.from} → ${x.to}` === r).map((x) => x.file).join(", ")})</li>)}
            {[...new Set(conversion.network.map((r) => `${r.from} → ${r.to}`))].map((r) => <li key={r}>Network {r}</li>)}
            {conversion.uefi && (
              <li>
                UEFI: {conversion.uefi.fallback === "installed" ? `installed the fallback loader ${conversion.uefi.fallbackFiles.join(", ")}` : "the fallback loader was already there"}
                {conversion.uefi.bootEntry ? `; the guest's own entry “${conversion.uefi.bootEntry.description}” → ${conversion.uefi.bootEntry.path} is in its OVMF variables` : ""}
              </li>
            )}
            {conversion.serialConsole && <li>Serial console on ttyS0</li>}
            {conversion.selinuxRelabel && <li>SELinux relabel at first boot</li>}
          </ul>
          {conversion.nics.length > 0 && (
            <table className="mt-3 w-full text-left text-sm" aria-label="Network identity">
              <thead><tr><th className="pr-2">NIC</th><th className="pr-2">MAC</th><th className="pr-2">In the guest</th><th>How</th></tr></thead>
              <tbody>
                {conversion.nics.map((n) => (
                  <tr key={n.sourceId} className="align-top">
                    <td className="pr-2 font-mono text-xs">{n.sourceId}</td>
                    <td className="pr-2 font-mono text-xs">{n.mac ?? "none"}</td>
                    <td className="pr-2 font-mono text-xs">{n.approach === "renamed" ? `${n.guestName} → ${n.kvmName}` : n.kvmName}</td>
                    <td><Badge tone={n.approach === "pinned" ? "ok" : n.approach === "renamed" ? "info" : "neutral"}>{n.approach}</Badge> {n.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Card>
  );
}

/** The boot check: verdict, screenshot and the end of the serial console. */
function BootCard({ id, boot }: { id: string; boot: Extract<PipelineEvent, { type: "boot" }> }) {
  const trpc = useTRPC();
  const evidence = useQuery(trpc.jobs.bootEvidence.queryOptions({ id }));
  const consoleRef = useRef<HTMLPreElement>(null);
  const lines = evidence.data?.console ? consoleText(evidence.data.console).split("\n").slice(-40).join("\n") : boot.lastLines.join("\n");
  // The end of the console is what matters: the login prompt, or where the boot stopped.
  useEffect(() => {
    if (consoleRef.current) consoleRef.current.scrollTop = consoleRef.current.scrollHeight;
  }, [lines]);
  return (
    <Card title="Boot check" id="boot-heading">
      <p className="text-sm" role="status" aria-label="Boot check result">
        {boot.ok ? <Badge tone="ok">booted</Badge> : <Badge tone="critical">did not boot</Badge>}{" "}
        {boot.ok ? (boot.proof === "network" ? `Network up after ${boot.seconds} s: ${boot.line}` : `Login prompt “${boot.line}” after ${boot.seconds} s`) : boot.failure} ({boot.accel === "kvm" ? "KVM" : "software emulation"})
        {boot.ok && (boot.dhcpFrom.length ? ` · network up: DHCP from ${boot.dhcpFrom.join(", ")}` : " · no DHCP request seen")}
        {boot.firmware?.kind === "uefi" && ` · UEFI${boot.firmware.secureBoot ? " with Secure Boot" : ""}, ${boot.firmware.varsFromGuest ? "the guest's own variables" : "fresh variables"}${boot.bootEntry ? `, started ${boot.bootEntry}` : ""}`}
      </p>
      {boot.nics && boot.nics.length > 0 && (
        <table className="mt-2 text-left text-sm" aria-label="Network evidence">
          <thead><tr><th className="pr-3">NIC</th><th className="pr-3">DHCP request</th><th>Addresses announced</th></tr></thead>
          <tbody>
            {boot.nics.map((n) => (
              <tr key={n.mac}><td className="pr-3 font-mono text-xs">{n.mac} ({n.model})</td><td className="pr-3">{n.dhcp ? "yes" : "no"}</td><td className="font-mono text-xs">{n.addresses.join(", ") || "none"}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {boot.screenshots && boot.screenshots.length > 0 && (
        <div className="mt-3 flex gap-2 overflow-x-auto" aria-label="Boot screenshots">
          {boot.screenshots.map((s, i) => (
            <figure key={i} className="shrink-0 text-xs">
              {/* eslint-disable-next-line @next/next/no-img-element -- a data: URL from the job's events */}
              <img src={s.png} alt={`Screen after ${s.seconds} s${s.blue ? ": a blue screen" : ""}`} className={`w-48 rounded border ${s.blue ? "border-red-600" : "border-slate-200 dark:border-slate-700"}`} />
              <figcaption>{s.seconds} s{s.blue ? " · blue screen" : ""}</figcaption>
            </figure>
          ))}
        </div>
      )}
      <div className="mt-3 grid gap-3 xl:grid-cols-2">
        {evidence.data?.screenshot && (
          // eslint-disable-next-line @next/next/no-img-element -- a data: URL from the API, not a static asset
          <img src={evidence.data.screenshot} alt="Screen of the converted guest at the end of the boot check" className="w-full rounded border border-slate-200 dark:border-slate-700" />
        )}
        <pre ref={consoleRef} aria-label="Serial console" className="max-h-72 overflow-auto whitespace-pre-wrap rounded bg-slate-950 p-2 font-mono text-xs text-slate-100">{lines}</pre>
      </div>
    </Card>
  );
}

/** One job: stage timeline, per-disk progress, live log, outputs; live over SSE, resumed after reloads. */
export function JobView({ id }: { id: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const [events, setEvents] = useState<Tracked[]>([]);
  const [now, setNow] = useState(() => Date.now());
  const [changedAt, setChangedAt] = useState<Record<number, { bytes: number; at: number }>>({});
  const job = useQuery({ ...trpc.jobs.get.queryOptions({ id }), refetchInterval: (q) => (q.state.data && ["queued", "running"].includes(q.state.data.state) ? 2000 : false) });
  const sub = useSubscription(
    trpc.jobs.events.subscriptionOptions({ id }, {
      onData: (d) => {
        const t = d as Tracked;
        setEvents((all) => (all.length && Number(all[all.length - 1]!.id) >= Number(t.id) ? all : [...all, t]));
        if (t.data.type === "progress") {
          const p = t.data;
          setChangedAt((c) => (c[p.disk]?.bytes === p.bytesDone ? c : { ...c, [p.disk]: { bytes: p.bytesDone, at: Date.now() } }));
        }
        if (t.data.type === "result" || t.data.type === "error") void qc.invalidateQueries({ queryKey: trpc.jobs.get.queryKey({ id }) });
      },
    }),
  );
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const cancel = useMutation(trpc.jobs.cancel.mutationOptions({ onSuccess: () => qc.invalidateQueries({ queryKey: trpc.jobs.get.queryKey({ id }) }) }));
  const retry = useMutation(trpc.jobs.retry.mutationOptions({ onSuccess: (j) => router.push(`/jobs/${j.id}`) }));
  const operator = useAtLeast("operator");
  const downloadReport = async () => {
    const report = await qc.fetchQuery(trpc.jobs.report.queryOptions({ id }));
    const url = URL.createObjectURL(new Blob([JSON.stringify(report, null, 2)], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `ferry-job-${id}.json`;
    a.click();
    URL.revokeObjectURL(url);
  };

  const view = useMemo(() => {
    const stages = new Map<number, { name: string; state: string; seconds?: number; t: number }>();
    const progress = new Map<number, Extract<PipelineEvent, { type: "progress" }>>();
    let total = 0;
    let result: Extract<PipelineEvent, { type: "result" }> | null = null;
    let error: Extract<PipelineEvent, { type: "error" }> | null = null;
    let guest: Extract<PipelineEvent, { type: "inspection" }>["guest"] | null = null;
    let conversion: Extract<PipelineEvent, { type: "conversion" }>["report"] | null = null;
    let boot: Extract<PipelineEvent, { type: "boot" }> | null = null;
    let domain: Extract<PipelineEvent, { type: "domain" }> | null = null;
    const log: { t: number; kind: string; text: string }[] = [];
    for (const { data: e } of events) {
      if (e.type === "stage") {
        total = e.total;
        stages.set(e.index, { name: e.name, state: e.state, seconds: e.seconds, t: e.t });
      } else if (e.type === "progress") progress.set(e.disk, e);
      else if (e.type === "result") result = e;
      else if (e.type === "error") {
        error = e;
        log.push({ t: e.t, kind: "error", text: `${e.message}${e.hint ? ` (${e.hint})` : ""}` });
      } else if (e.type === "log") log.push({ t: e.t, kind: "log", text: e.message });
      else if (e.type === "warning") log.push({ t: e.t, kind: "warning", text: e.message });
      else if (e.type === "inspection") guest = e.guest;
      else if (e.type === "conversion") conversion = e.report;
      else if (e.type === "boot") boot = e;
      else if (e.type === "domain") domain = e;
    }
    return { domain, stages: [...stages.entries()].sort((a, b) => a[0] - b[0]), progress: [...progress.values()].sort((a, b) => a.disk - b.disk), total, result, error, log, guest, conversion, boot };
  }, [events]);

  if (job.error) return <ErrorBox error={job.error} title="This job cannot be shown" />;
  if (!job.data) return <p role="status">Loading the job…</p>;
  const j = job.data;
  const running = j.state === "running";
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h1 className="text-xl font-semibold">{j.planName ?? j.relPath.split("/").pop()?.replace(/\.vmx$/i, "")}</h1>
          <p className="text-sm text-slate-500">
            {j.share}:{j.relPath} · <span aria-label="Conversion host">{j.host ? <>on <Link className="underline" href="/hosts">{j.host}</Link></> : j.options.host ? `waiting for ${j.options.host}` : "any host"}</span>
            {j.attempt > 1 && ` · attempt ${j.attempt}`} · <Link className="underline" href="/jobs">all jobs</Link>
          </p>
        </div>
        <div className="flex items-center gap-2">
          <span aria-label="Job state"><JobStateBadge state={j.state} /></span>
          {operator !== false && (j.state === "queued" || running) && <button type="button" className={btn} disabled={cancel.isPending} onClick={() => cancel.mutate({ id })}>Cancel</button>}
          {operator !== false && ["failed", "cancelled", "interrupted"].includes(j.state) && <button type="button" className={btn} disabled={retry.isPending} onClick={() => retry.mutate({ id })}>Retry</button>}
          <button type="button" className={btn} onClick={() => void downloadReport()}>Download report</button>
        </div>
      </div>
      {j.copyOnly && <Alert tone="info">Copy-only: the disks and metadata are copied; the guest is not converted and keeps its VMware drivers.</Alert>}
      <ErrorBox error={cancel.error ?? retry.error} title="That did not work" />
      {sub.status === "connecting" && events.length > 0 && <p role="status" className="text-sm text-amber-700 dark:text-amber-300">Connection lost; reconnecting…</p>}

      <div className="grid gap-4 lg:grid-cols-[18rem_1fr]">
        <Card title="Stages" id="stages-heading">
          <ol className="space-y-1 text-sm" aria-label="Stages">
            {view.stages.map(([i, s]) => (
              <li key={i} className="flex items-start gap-2" data-state={s.state}>
                <span aria-hidden className="w-4">{s.state === "finished" ? "✓" : s.state === "failed" ? "✗" : s.state === "skipped" ? "–" : "●"}</span>
                <span className={s.state === "started" ? "font-semibold" : s.state === "skipped" ? "text-slate-400" : ""}>
                  {s.name}
                  <span className="sr-only"> ({s.state === "started" ? "running" : s.state})</span>
                  {s.seconds !== undefined && <span className="text-xs text-slate-500"> {s.seconds.toFixed(1)} s</span>}
                </span>
              </li>
            ))}
            {view.total > view.stages.length && j.state !== "failed" && j.state !== "cancelled" && j.state !== "interrupted" && (
              <li className="text-slate-500">{view.total - view.stages.length} more stage{view.total - view.stages.length === 1 ? "" : "s"} waiting</li>
            )}
            {view.stages.length === 0 && <li className="text-slate-500">{j.state === "queued" ? "Waiting for a free worker…" : "No stage yet."}</li>}
          </ol>
        </Card>
        <div className="space-y-4">
          <Card title="Disks" id="disks-progress-heading">
            {view.progress.length === 0 && <p className="text-sm text-slate-500">The copy has not started.</p>}
            <ul className="space-y-3">
              {view.progress.map((p) => {
                const pct = p.bytesTotal ? (100 * p.bytesDone) / p.bytesTotal : 100;
                const done = p.bytesDone >= p.bytesTotal;
                const stalled = running && !done && changedAt[p.disk] !== undefined && now - changedAt[p.disk]!.at > STALL_MS;
                const eta = p.rate > 0 ? (p.bytesTotal - p.bytesDone) / p.rate : Infinity;
                return (
                  <li key={p.disk}>
                    <div className="flex justify-between text-sm">
                      <span className="font-medium">Disk {p.disk}/{p.disks}</span>
                      <span className="tabular-nums">{formatBytes(p.bytesDone)} of {formatBytes(p.bytesTotal)}{!done && <> · {formatBytes(p.rate)}/s · ETA {duration(eta)}</>}</span>
                    </div>
                    <div role="progressbar" aria-label={`Disk ${p.disk} copy`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} className="mt-1 h-3 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700">
                      <div className={`h-full ${stalled ? "bg-amber-500" : done ? "bg-emerald-600" : "bg-sky-600"}`} style={{ width: `${pct}%` }} />
                    </div>
                    {stalled && <p className="mt-1 text-sm text-amber-700 dark:text-amber-300" role="status">Stalled: no data moved for {Math.round((now - changedAt[p.disk]!.at) / 1000)} s. Check the NAS mount.</p>}
                  </li>
                );
              })}
            </ul>
          </Card>
          {(view.result || j.outputs.length > 0) && (
            <Card title="Output files" id="outputs-heading">
              <ul className="text-sm" aria-label="Output files">
                {(view.result?.files ?? j.outputs).map((f) => (
                  <li key={f.path} className="flex justify-between gap-4"><span className="font-mono text-xs">{f.path}</span><span>{formatBytes(f.bytes)}</span></li>
                ))}
              </ul>
            </Card>
          )}
          {view.domain && <DomainCard id={id} domain={view.domain} />}
          {view.guest && <GuestCard guest={view.guest} conversion={view.conversion} />}
          {view.boot && <BootCard id={id} boot={view.boot} />}
          {j.error && <Alert tone={j.state === "failed" ? "critical" : "warning"} title={j.state === "failed" ? "The job failed" : `The job was ${j.state}`}><p>{j.error.file ? `${j.error.file}: ` : ""}{j.error.message}</p>{j.error.hint && <p className="mt-1">{j.error.hint}</p>}</Alert>}
          <Card title="Log" id="log-heading">
            <pre aria-label="Job log" className="max-h-72 overflow-auto whitespace-pre-wrap font-mono text-xs">
              {view.log.map((l) => `[${l.t.toFixed(1).padStart(6)}] ${l.kind === "log" ? "" : `${l.kind}: `}${l.text}`).join("\n") || "No log yet."}
            </pre>
          </Card>
        </div>
      </div>
    </div>
  );
}

/** -o libvirt: the domain the job defined, with its state now (asked of libvirt every 5 s). */
function DomainCard({ id, domain }: { id: string; domain: Extract<PipelineEvent, { type: "domain" }> }) {
  const trpc = useTRPC();
  const live = useQuery({ ...trpc.jobs.domain.queryOptions({ id }), refetchInterval: 5000 });
  const state = live.data?.state ?? null;
  return (
    <Card title="libvirt domain" id="domain-heading">
      <dl className="grid grid-cols-[8rem_1fr] gap-1 text-sm" aria-label="libvirt domain">
        <dt className="font-medium">Name</dt>
        <dd className="font-mono">{domain.name}</dd>
        <dt className="font-medium">libvirt</dt>
        <dd className="font-mono text-xs">{domain.uri}</dd>
        <dt className="font-medium">Pool</dt>
        <dd>{domain.pool}: {domain.volumes.map((v) => v.split("/").at(-1)).join(", ")}</dd>
        <dt className="font-medium">State</dt>
        <dd data-testid="domain-state">
          {state !== null ? <Badge tone={state === "running" ? "ok" : "info"}>{state}</Badge> : live.data?.error ? <span className="text-red-700">{live.data.error}</span> : <span className="text-slate-500">{domain.state} (when defined)</span>}
          {domain.started && <span className="ml-2 text-xs text-slate-500">started by this job</span>}
        </dd>
      </dl>
    </Card>
  );
}
