"use client";

import { useQuery } from "@tanstack/react-query";
import { formatBytes } from "@/server/units";
import { useTRPC } from "./TrpcProvider";
import { Badge, Card, ErrorBox, td, th } from "./ui";

const TONE = { online: "ok", lost: "critical", stopped: "neutral" } as const;

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

/** Every conversion host that ever reported to this store: what it is doing and whether it is still there. */
export function HostsList() {
  const trpc = useTRPC();
  const hosts = useQuery({ ...trpc.jobs.hosts.queryOptions(), refetchInterval: 2000 });
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Conversion hosts</h1>
      <p className="text-sm text-slate-600 dark:text-slate-300">
        {hosts.data?.store === "sqlite"
          ? <>Jobs are kept in SQLite on this host: one conversion host. Several hosts share a PostgreSQL database (<code>FERRY_DATABASE_URL</code>); start each with <code>ferry worker --host NAME</code>.</>
          : <>Jobs are kept in PostgreSQL; each host runs <code>ferry worker --host NAME</code> and takes jobs from the same queue. A host silent for longer than its lease is lost: its jobs are interrupted, cleaned up and, when asked, retried elsewhere.</>}
      </p>
      <ErrorBox error={hosts.error} title="The hosts cannot be listed" />
      <Card>
        <table className="w-full text-sm" aria-label="Conversion hosts">
          <thead>
            <tr className="border-b border-slate-200 dark:border-slate-700">
              <th className={th}>Host</th><th className={th}>State</th><th className={th}>Last heartbeat</th><th className={th}>Accelerator</th><th className={th}>Jobs</th><th className={th}>Free overlay space</th><th className={th}>Version</th>
            </tr>
          </thead>
          <tbody>
            {hosts.data?.hosts.map((h) => (
              <tr key={h.name} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}><span className="font-medium">{h.name}</span><div className="text-xs text-slate-500">pid {h.pid}, up since {new Date(h.startedAt).toLocaleString()}</div></td>
                <td className={td}><Badge tone={TONE[h.state]}>{h.state}</Badge></td>
                <td className={td} title={new Date(h.lastHeartbeat).toLocaleString()}>{ago(h.heartbeatAgeMs)}<div className="text-xs text-slate-500">lease {Math.round(h.leaseMs / 1000)} s</div></td>
                <td className={td}>{h.accelerator.split(":")[0]}<div className="text-xs text-slate-500">{h.accelerator.split(":").slice(1).join(":").trim()}</div></td>
                <td className={td}>{h.state === "online" ? `${h.jobsRunning} of ${h.concurrency}` : "—"}</td>
                <td className={td}>{h.overlayFreeBytes === null ? "unknown" : formatBytes(h.overlayFreeBytes)}<div className="font-mono text-xs text-slate-500">{h.overlayDir}</div></td>
                <td className={td}>{h.version}</td>
              </tr>
            ))}
            {hosts.data?.hosts.length === 0 && <tr><td className={td} colSpan={7}>No conversion host has reported yet: the web server&apos;s own worker starts with the first request unless FERRY_NO_WORKER=1.</td></tr>}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
