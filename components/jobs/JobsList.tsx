"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import type { JobState } from "@/server/jobs/job";
import { useTRPC } from "../TrpcProvider";
import { Card, ErrorBox, td, th } from "../ui";
import { JobStateBadge } from "./JobView";

const STATES: JobState[] = ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"];

export function JobsList() {
  const trpc = useTRPC();
  const [states, setStates] = useState<JobState[]>([]);
  const jobs = useQuery({ ...trpc.jobs.list.queryOptions({ states: states.length ? states : undefined, limit: 200 }), refetchInterval: 2000 });
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Jobs</h1>
        <Link href="/import" className="text-sm font-medium text-sky-700 underline dark:text-sky-300">Import guests</Link>
      </div>
      <fieldset className="flex flex-wrap gap-3 text-sm">
        <legend className="sr-only">Filter by state</legend>
        {STATES.map((s) => (
          <label key={s} className="flex items-center gap-1">
            <input type="checkbox" checked={states.includes(s)} onChange={(e) => setStates(e.target.checked ? [...states, s] : states.filter((x) => x !== s))} /> {s}
          </label>
        ))}
      </fieldset>
      <ErrorBox error={jobs.error} title="Jobs cannot be listed" />
      <Card>
        <table className="w-full text-sm" aria-label="Jobs">
          <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>Guest</th><th className={th}>State</th><th className={th}>Host</th><th className={th}>Created</th><th className={th}>Finished</th></tr></thead>
          <tbody>
            {jobs.data?.map((j) => (
              <tr key={j.id} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}><Link className="font-medium text-sky-800 underline dark:text-sky-300" href={`/jobs/${j.id}`}>{j.planName ?? j.relPath.split("/").pop()}</Link><div className="text-xs text-slate-500">{j.share}:{j.relPath}</div></td>
                <td className={td}><JobStateBadge state={j.state} /></td>
                <td className={td}>{j.host ?? (j.options.host ? `${j.options.host} (asked)` : "any")}</td>
                <td className={td}>{new Date(j.createdAt).toLocaleString()}</td>
                <td className={td}>{j.finishedAt ? new Date(j.finishedAt).toLocaleString() : "—"}</td>
              </tr>
            ))}
            {jobs.data?.length === 0 && <tr><td className={td} colSpan={5}>No jobs{states.length ? " in these states" : " yet"}.</td></tr>}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
