"use client";

import type { ReactNode } from "react";

/** Small shared pieces of the wizard: cards, buttons, badges, alerts. */

export const btn =
  "inline-flex items-center gap-1 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:cursor-not-allowed disabled:opacity-50 dark:border-slate-600 dark:bg-slate-800 dark:hover:bg-slate-700";
export const btnPrimary =
  "inline-flex items-center gap-1 rounded-md bg-sky-700 px-4 py-1.5 text-sm font-medium text-white hover:bg-sky-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:cursor-not-allowed disabled:opacity-50";
export const input =
  "rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-600 dark:bg-slate-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500";
export const th = "px-2 py-1 text-left text-xs font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400";
export const td = "px-2 py-1 align-top";

export function Card({ title, children, actions, id }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; id?: string }) {
  return (
    <section aria-labelledby={id} className="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
      {(title || actions) && (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title && <h2 id={id} className="text-base font-semibold">{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

const SEVERITY: Record<string, string> = {
  critical: "border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100",
  warning: "border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100",
  info: "border-sky-300 bg-sky-50 text-sky-900 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-100",
  ok: "border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100",
  neutral: "border-slate-300 bg-slate-50 text-slate-800 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-100",
};

export function Badge({ tone, children }: { tone: keyof typeof SEVERITY; children: ReactNode }) {
  return <span className={`inline-block rounded border px-1.5 py-0.5 text-xs font-medium ${SEVERITY[tone]}`}>{children}</span>;
}

export function Alert({ tone, title, children }: { tone: "critical" | "warning" | "info" | "ok"; title?: ReactNode; children?: ReactNode }) {
  return (
    <div role={tone === "critical" ? "alert" : "status"} className={`rounded-md border p-3 text-sm ${SEVERITY[tone]}`}>
      {title && <p className="font-semibold">{title}</p>}
      {children}
    </div>
  );
}

/** A tRPC error as a sysadmin reads it: the message, the file and line, the hint. */
export function ErrorBox({ error, title = "Something went wrong" }: { error: { message: string; data?: unknown } | null | undefined; title?: string }) {
  if (!error) return null;
  const ferry = (error.data as { ferry?: { file: string | null; line: number | null; hint: string | null } } | undefined)?.ferry;
  return (
    <Alert tone="critical" title={title}>
      <p>
        {ferry?.file ? `${ferry.file}${ferry.line ? `:${ferry.line}` : ""}: ` : ""}
        {error.message === "Failed to fetch" ? "the Ferry server cannot be reached; is it running?" : error.message}
      </p>
      {ferry?.hint && <p className="mt-1">{ferry.hint}</p>}
    </Alert>
  );
}

export function Steps({ steps, current }: { steps: string[]; current: number }) {
  return (
    <ol aria-label="Import steps" className="flex flex-wrap gap-2 text-sm">
      {steps.map((s, i) => (
        <li key={s} aria-current={i === current ? "step" : undefined} className={`flex items-center gap-2 rounded-full border px-3 py-1 ${i === current ? "border-sky-600 bg-sky-50 font-semibold text-sky-900 dark:bg-sky-950 dark:text-sky-100" : i < current ? "border-emerald-400 text-emerald-800 dark:text-emerald-300" : "border-slate-300 text-slate-500 dark:border-slate-700"}`}>
          <span aria-hidden>{i < current ? "✓" : i + 1}</span> {s}
        </li>
      ))}
    </ol>
  );
}
