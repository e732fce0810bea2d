"use client";

import { useMutation } from "@tanstack/react-query";
import { useMemo, useState, type ReactNode } from "react";
import type { SourceVm } from "@/server/vmx/source-vm";
import { SAMPLE_VMX, SAMPLE_VMX_NAME } from "./sampleVmx";
import { useTRPC } from "./TrpcProvider";

/** Bytes → base64 without Buffer (this runs in the browser). */
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const SEVERITY_STYLE: Record<string, string> = {
  critical: "border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100",
  warning: "border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100",
  info: "border-sky-300 bg-sky-50 text-sky-900 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-100",
};

export function VmxInspector() {
  const trpc = useTRPC();
  const read = useMutation(trpc.vmx.read.mutationOptions());
  const [fileName, setFileName] = useState("pasted.vmx");
  const [bytes, setBytes] = useState<Uint8Array | null>(null);
  const [text, setText] = useState("");
  const [shown, setShown] = useState<{ label: string; lines: number[] } | null>(null);

  // The lines as the file has them, for "where did this come from".
  const fileLines = useMemo(() => {
    const source = bytes ? new TextDecoder("utf-8").decode(bytes) : text;
    return source.split(/\r\n|\n|\r/);
  }, [bytes, text]);

  const submit = (b: Uint8Array, name: string) => {
    setShown(null);
    read.mutate({ fileName: name, base64: toBase64(b) });
  };

  const result = read.data;
  return (
    <div className="space-y-6">
      <section aria-labelledby="open-heading" className="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
        <h1 id="open-heading" className="text-xl font-semibold">Read a VMware guest</h1>
        <p className="mt-1 text-sm text-slate-600 dark:text-slate-400">
          Open a guest&apos;s <code>.vmx</code> file or paste its text to see what Ferry reads from it. Nothing is copied or changed.
        </p>
        <div className="mt-4 flex flex-wrap items-end gap-3">
          <label className="text-sm">
            <span className="block font-medium">VMX file</span>
            <input
              type="file"
              accept=".vmx"
              className="mt-1 block text-sm"
              onChange={async (e) => {
                const file = e.target.files?.[0];
                if (!file) return;
                const b = new Uint8Array(await file.arrayBuffer());
                setFileName(file.name);
                setBytes(b);
                setText("");
                submit(b, file.name);
              }}
            />
          </label>
          <button
            type="button"
            className="rounded-md border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 dark:border-slate-700 dark:hover:bg-slate-800"
            onClick={() => {
              setText(SAMPLE_VMX);
              setBytes(null);
              setFileName(SAMPLE_VMX_NAME);
            }}
          >
            Load the sample
          </button>
        </div>
        <label className="mt-4 block text-sm">
          <span className="block font-medium">VMX text</span>
          <textarea
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              if (bytes) setFileName("pasted.vmx");
              setBytes(null);
            }}
            rows={8}
            spellCheck={false}
            placeholder={'displayName = "web01"\nmemsize = "4096"\n...'}
            className="mt-1 w-full rounded-md border border-slate-300 bg-white p-2 font-mono text-xs dark:border-slate-700 dark:bg-slate-950"
          />
        </label>
        <button
          type="button"
          disabled={text.trim() === "" || read.isPending}
          onClick={() => submit(new TextEncoder().encode(text), fileName)}
          className="mt-3 rounded-md bg-sky-700 px-4 py-2 text-sm font-medium text-white hover:bg-sky-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:opacity-50"
        >
          {read.isPending ? "Reading…" : "Read"}
        </button>
      </section>

      {read.isError && (
        <p role="alert" className="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100">
          The server could not be reached: {read.error.message}
        </p>
      )}
      {result && !result.ok && (
        <div role="alert" className="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100">
          <p className="font-medium">
            {result.error.file}
            {result.error.line ? `:${result.error.line}` : ""}: {result.error.message}
          </p>
          {result.error.hint && <p className="mt-1">{result.error.hint}</p>}
        </div>
      )}
      {result?.ok && (
        <GuestView vm={result.vm} show={(field, label) => setShown({ label, lines: result.vm.provenance[field] ?? [] })} />
      )}
      {shown && (
        <aside aria-label="VMX lines" className="rounded-lg border border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900">
          <h2 className="font-semibold">Where the {shown.label} comes from</h2>
          {shown.lines.length === 0 ? (
            <p className="mt-1 text-slate-600 dark:text-slate-400">No line sets it: this is the default.</p>
          ) : (
            <pre className="mt-2 overflow-x-auto font-mono text-xs">
              {shown.lines.map((n) => `${String(n).padStart(4)}  ${fileLines[n - 1] ?? ""}`).join("\n")}
            </pre>
          )}
        </aside>
      )}
    </div>
  );
}

function GuestView({ vm, show }: { vm: SourceVm; show: (field: string, label: string) => void }) {
  const Value = ({ field, label, children }: { field: string; label: string; children: ReactNode }) => (
    <button type="button" onClick={() => show(field, label)} title="Show the VMX lines" className="text-left underline decoration-dotted underline-offset-2 hover:text-sky-700 dark:hover:text-sky-300">
      {children}
    </button>
  );
  const t = vm.topology;
  const rows: [string, string, ReactNode][] = [
    ["Name", "name", vm.name],
    ["Guest OS", "guestOS", vm.guestOS.id ? `${vm.guestOS.id} (${vm.guestOS.family})` : "not set"],
    ["Firmware", "firmware", vm.firmware === "uefi" ? `UEFI${vm.secureBoot ? ", Secure Boot" : ""}` : "BIOS"],
    ["CPUs", "topology", `${vm.vcpus} vCPU${vm.vcpus === 1 ? "" : "s"}${t ? ` = ${t.sockets} socket${t.sockets === 1 ? "" : "s"} × ${t.cores} core${t.cores === 1 ? "" : "s"}` : ""}`],
    ["Memory", "memoryMiB", `${vm.memoryMiB} MiB`],
  ];
  const groups = (["critical", "warning", "info"] as const).map((s) => [s, vm.concerns.filter((c) => c.severity === s)] as const);
  const th = "px-2 py-1 text-left font-medium";
  const td = "px-2 py-1";
  return (
    <section aria-labelledby="guest-heading" className="space-y-4 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
      <h2 id="guest-heading" className="text-lg font-semibold">{vm.name}</h2>
      <dl className="grid grid-cols-[8rem_1fr] gap-x-4 gap-y-1 text-sm">
        {rows.map(([label, field, value]) => (
          <div key={field} className="contents">
            <dt className="text-slate-500 dark:text-slate-400">{label}</dt>
            <dd><Value field={field} label={label.toLowerCase()}>{value}</Value></dd>
          </div>
        ))}
      </dl>
      <div className="overflow-x-auto">
        <table className="w-full text-sm">
          <caption className="text-left font-medium">Disks</caption>
          <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>Slot</th><th className={th}>Controller</th><th className={th}>File</th><th className={th}>Mode</th></tr></thead>
          <tbody>
            {vm.disks.map((d, i) => (
              <tr key={d.id} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}>{d.id}</td>
                <td className={td}>{vm.controllers.find((c) => c.bus === d.bus && c.index === d.controller)?.model ?? d.bus}</td>
                <td className={`${td} font-mono text-xs`}><Value field={`disks.${i}.file`} label={`${d.id} file`}>{d.file ?? "(none)"}</Value></td>
                <td className={td}>{d.mode}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="overflow-x-auto">
        <table className="w-full text-sm">
          <caption className="text-left font-medium">Network adapters</caption>
          <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>NIC</th><th className={th}>Model</th><th className={th}>MAC</th><th className={th}>Network</th></tr></thead>
          <tbody>
            {vm.nics.map((n, i) => (
              <tr key={n.id} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}>{n.id}</td>
                <td className={td}>{n.model ?? "default"}</td>
                <td className={`${td} font-mono text-xs`}><Value field={`nics.${i}.mac`} label={`${n.id} MAC`}>{n.mac ?? "none"}{n.macType === "static" ? " (static)" : ""}</Value></td>
                <td className={td}>{n.network ?? "none"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {vm.cdroms.length > 0 && (
        <p className="text-sm">CD-ROMs: {vm.cdroms.map((c) => `${c.id} ${c.kind === "image" ? (c.file ?? "empty") : "host drive"}`).join("; ")}</p>
      )}
      <div>
        <h3 className="font-medium">Concerns</h3>
        {vm.concerns.length === 0 && <p className="text-sm text-slate-600 dark:text-slate-400">None found in the VMX.</p>}
        <ul className="mt-1 space-y-1">
          {groups.flatMap(([severity, list]) =>
            list.map((c, i) => (
              <li key={`${c.id}-${i}`} className={`rounded border px-2 py-1 text-sm ${SEVERITY_STYLE[severity]}`}>
                <span className="font-semibold uppercase">{severity}</span> {c.message}
                {c.lines.length > 0 && <span className="opacity-75"> (line{c.lines.length > 1 ? "s" : ""} {c.lines.join(", ")})</span>}
              </li>
            )),
          )}
        </ul>
      </div>
      {vm.warnings.length > 0 && (
        <div>
          <h3 className="font-medium">Reader warnings</h3>
          <ul className="mt-1 list-disc pl-5 text-sm">
            {vm.warnings.map((w, i) => (
              <li key={i}>{w.line ? `line ${w.line}: ` : ""}{w.message}</li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
