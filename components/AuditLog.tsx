"use client";

import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "./TrpcProvider";
import { Card, ErrorBox, td, th } from "./ui";

export function AuditLog() {
  const trpc = useTRPC();
  const log = useQuery({ ...trpc.auth.audit.queryOptions({ limit: 500 }), refetchInterval: 5000 });
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Audit log</h1>
      <ErrorBox error={log.error} title="The audit log cannot be shown" />
      <Card>
        <table className="w-full text-sm" aria-label="Audit log">
          <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>When</th><th className={th}>Who</th><th className={th}>From</th><th className={th}>What</th><th className={th}>Details</th></tr></thead>
          <tbody>
            {log.data?.map((e) => (
              <tr key={e.id} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}>{new Date(e.at).toLocaleString()}</td>
                <td className={td}>{e.user ?? "—"}</td>
                <td className={td}>{e.address ?? "—"}</td>
                <td className={td}>{e.action}</td>
                <td className={`${td} font-mono text-xs`}>{Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
