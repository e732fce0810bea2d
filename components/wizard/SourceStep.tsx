"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { skipToken } from "@tanstack/react-query";
import { useState } from "react";
import type { FoundVm } from "@/server/shares/scan";
import { formatBytes } from "@/server/units";
import { useTRPC } from "../TrpcProvider";
import { Alert, Badge, btn, btnPrimary, Card, ErrorBox, input, td, th } from "../ui";

export interface SelectedGuest {
  share: string;
  relPath: string;
  name: string;
}

function FolderIcon() {
  return (
    <svg aria-hidden viewBox="0 0 16 16" className="inline h-4 w-4 align-[-2px]" fill="currentColor">
      <path d="M1.5 3A1.5 1.5 0 0 1 3 1.5h3.1l1.5 1.5H13A1.5 1.5 0 0 1 14.5 4.5v7A1.5 1.5 0 0 1 13 13H3a1.5 1.5 0 0 1-1.5-1.5z" />
    </svg>
  );
}

const ferryCode = (error: { data?: unknown } | null | undefined) => (error?.data as { ferry?: { code?: string } } | undefined)?.ferry?.code ?? null;

/**
 * First contact with an ssh share: the fingerprint the server offers, for an
 * admin to compare with the one the server's owner gives, and accept.
 */
function HostKeyPrompt({ share, onAccepted }: { share: string; onAccepted: () => void }) {
  const trpc = useTRPC();
  const key = useQuery(trpc.shares.hostKey.queryOptions({ share }));
  const accept = useMutation(trpc.shares.acceptHostKey.mutationOptions({ onSuccess: onAccepted }));
  if (key.error) return <ErrorBox error={key.error} title="The server's host key could not be read" />;
  if (!key.data || key.data.state === "known" || key.data.state === "local") return null;
  if (key.data.state === "changed") {
    return (
      <Alert tone="critical" title="The server's host key changed">
        <p>It now offers <code className="break-all">{key.data.fingerprint}</code>, which is not the key in {key.data.knownHosts}. Ferry will not connect, and will not replace the key: someone may be intercepting the connection.</p>
        <p className="mt-1">If the server was reinstalled, check the new fingerprint with its admin and remove the old line from that file by hand.</p>
      </Alert>
    );
  }
  return (
    <Alert tone="warning" title="First connection to this SSH server">
      <p>The server offers the host key <code className="break-all" data-testid="host-key-fingerprint">{key.data.fingerprint}</code>.</p>
      <p className="mt-1">Compare it with the server&apos;s own (on ESXi: <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>) before you accept it. Accepted keys are stored in {key.data.knownHosts}.</p>
      <ErrorBox error={accept.error} title="The key was not stored" />
      <button type="button" className={`${btnPrimary} mt-2`} disabled={accept.isPending} onClick={() => accept.mutate({ share, fingerprint: key.data.fingerprint! })}>
        Accept and remember this key
      </button>
    </Alert>
  );
}

/** Step 1: pick a share, browse it, scan a folder, select guests. */
export function SourceStep({ selected, onChange, onNext }: { selected: SelectedGuest[]; onChange: (s: SelectedGuest[]) => void; onNext: () => void }) {
  const trpc = useTRPC();
  const shares = useQuery(trpc.shares.list.queryOptions());
  const [share, setShare] = useState<string | null>(null);
  const current = share ?? shares.data?.[0]?.name ?? null;
  const [path, setPath] = useState("");
  const [filter, setFilter] = useState("");
  const listing = useQuery(trpc.shares.browse.queryOptions(current ? { share: current, relPath: path } : skipToken));
  const qc = useQueryClient();
  const hostKeyProblem = ["ssh.host-key-unknown", "ssh.host-key-changed"].includes(ferryCode(listing.error) ?? "");
  const [scanOf, setScanOf] = useState<{ share: string; relPath: string; n: number } | null>(null);
  const [found, setFound] = useState<FoundVm[]>([]);
  const [scanDone, setScanDone] = useState<{ folders: number; ms: number } | null>(null);
  const [notes, setNotes] = useState<string[]>([]);
  const scan = useSubscription(
    trpc.shares.scan.subscriptionOptions(scanOf ? { share: scanOf.share, relPath: scanOf.relPath } : skipToken, {
      onData: (item) => {
        if (item.type === "vm") setFound((f) => [...f, item.vm]);
        else if (item.type === "note") setNotes((n) => [...n, `${item.path || "/"}: ${item.message}`]);
        else {
          setScanDone({ folders: item.folders, ms: item.ms });
          setScanOf(null);
        }
      },
    }),
  );
  const crumbs = path ? path.split("/") : [];
  const isSelected = (vm: FoundVm) => selected.some((s) => s.share === current && s.relPath === vm.relPath);
  const toggle = (vm: FoundVm) =>
    onChange(isSelected(vm) ? selected.filter((s) => !(s.share === current && s.relPath === vm.relPath)) : [...selected, { share: current!, relPath: vm.relPath, name: vm.name }]);
  const startScan = () => {
    setFound([]);
    setNotes([]);
    setScanDone(null);
    setScanOf({ share: current!, relPath: path, n: Date.now() });
  };
  const entries = (listing.data?.entries ?? []).filter((e) => e.name.toLowerCase().includes(filter.toLowerCase()));

  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <Card title="Browse a share" id="browse-heading">
        <ErrorBox error={shares.error} title="Shares could not be loaded" />
        <div className="flex flex-wrap items-end gap-3">
          <label className="text-sm">
            <span className="block font-medium">Share</span>
            <select className={input} value={current ?? ""} onChange={(e) => { setShare(e.target.value); setPath(""); }}>
              {shares.data?.map((s) => <option key={s.name} value={s.name}>{s.name} ({s.host ? `${s.host}:` : ""}{s.path})</option>)}
            </select>
          </label>
          <label className="text-sm">
            <span className="block font-medium">Filter by name</span>
            <input className={input} value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="web, db…" />
          </label>
        </div>
        <nav aria-label="Folder path" className="mt-3 flex flex-wrap items-center gap-1 text-sm">
          <button type="button" className="text-sky-700 underline dark:text-sky-300" onClick={() => setPath("")}>{current}</button>
          {crumbs.map((c, i) => (
            <span key={i} className="flex items-center gap-1">
              <span aria-hidden>/</span>
              <button type="button" className="text-sky-700 underline dark:text-sky-300" onClick={() => setPath(crumbs.slice(0, i + 1).join("/"))}>{c}</button>
            </span>
          ))}
        </nav>
        {hostKeyProblem && current ? (
          <HostKeyPrompt share={current} onAccepted={() => void qc.invalidateQueries({ queryKey: trpc.shares.browse.queryKey() })} />
        ) : (
          <ErrorBox error={listing.error} title="This folder cannot be shown" />
        )}
        {listing.isLoading && <p className="mt-2 text-sm text-slate-500">Loading…</p>}
        <ul className="mt-2 max-h-80 overflow-y-auto rounded border border-slate-200 text-sm dark:border-slate-700" aria-label="Folder contents">
          {entries.map((e) => (
            <li key={e.name} className="flex items-center justify-between border-b border-slate-100 px-2 py-1 last:border-0 dark:border-slate-800">
              {e.kind === "folder" ? (
                <button type="button" className="text-left font-medium text-sky-800 hover:underline dark:text-sky-300" onClick={() => { setPath(path ? `${path}/${e.name}` : e.name); setFilter(""); }}><FolderIcon /> {e.name}</button>
              ) : (
                <span className={e.kind === "vmx" ? "font-medium" : "text-slate-500"}>{e.name}{e.kind === "vmx" && <span className="ml-1 text-xs text-slate-500">(guest)</span>}</span>
              )}
              <span className="text-xs text-slate-500">{e.kind === "folder" ? "" : formatBytes(e.bytes)}</span>
            </li>
          ))}
          {listing.data && entries.length === 0 && <li className="px-2 py-1 text-slate-500">{filter ? "Nothing matches the filter." : "This folder is empty."}</li>}
        </ul>
        {listing.data && listing.data.hidden > 0 && <p className="mt-1 text-xs text-slate-500">{listing.data.hidden} entr{listing.data.hidden === 1 ? "y" : "ies"} hidden: links that lead outside the share, or unreadable.</p>}
        <button type="button" className={`${btnPrimary} mt-3`} disabled={!current || scanOf !== null} onClick={startScan}>
          {scanOf ? "Scanning…" : `Scan ${path ? `“${path}”` : "the whole share"} for guests`}
        </button>
      </Card>

      <Card title={`Guests found${found.length ? ` (${found.length})` : ""}`} id="found-heading">
        {scan.error && <ErrorBox error={scan.error} title="The scan failed" />}
        {!scanOf && !scanDone && found.length === 0 && <p className="text-sm text-slate-500">Scan a folder to list the VMware guests below it.</p>}
        {found.length > 0 && (
          <div className="max-h-96 overflow-y-auto">
            <table className="w-full text-sm" aria-label="Guests found">
              <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}><span className="sr-only">Select</span></th><th className={th}>Guest</th><th className={th}>OS</th><th className={th}>Disks</th><th className={th}>Size</th><th className={th}></th></tr></thead>
              <tbody>
                {found.map((vm) => (
                  <tr key={vm.relPath} className="border-b border-slate-100 dark:border-slate-800">
                    <td className={td}>
                      <input type="checkbox" aria-label={`Select ${vm.name}`} checked={isSelected(vm)} disabled={vm.error !== null} onChange={() => toggle(vm)} />
                    </td>
                    <td className={td}>
                      <div className="font-medium">{vm.name}</div>
                      <div className="text-xs text-slate-500">{vm.relPath}</div>
                      {vm.error && <div className="text-xs text-red-700 dark:text-red-300">{vm.error}</div>}
                    </td>
                    <td className={td}>{vm.guestOS ?? "—"}</td>
                    <td className={td}>{vm.diskCount}</td>
                    <td className={td}>{formatBytes(vm.totalBytes)}</td>
                    <td className={`${td} space-x-1`}>
                      {vm.inUse && <Badge tone="warning">in use</Badge>}
                      {vm.criticalConcerns > 0 && <Badge tone="critical">blocked</Badge>}
                      {vm.error && <Badge tone="critical">unreadable</Badge>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {scanDone && <p className="mt-2 text-xs text-slate-500" role="status">Scan finished: {found.length} guest{found.length === 1 ? "" : "s"} in {scanDone.folders} folders ({(scanDone.ms / 1000).toFixed(1)} s).</p>}
        {notes.length > 0 && <details className="mt-2 text-xs"><summary>{notes.length} note{notes.length === 1 ? "" : "s"}</summary><ul>{notes.map((n, i) => <li key={i}>{n}</li>)}</ul></details>}
        <div className="mt-3 flex items-center justify-between">
          <span className="text-sm">{selected.length} selected</span>
          <div className="flex gap-2">
            {selected.length > 0 && <button type="button" className={btn} onClick={() => onChange([])}>Clear</button>}
            <button type="button" className={btnPrimary} disabled={selected.length === 0} onClick={onNext}>Preview {selected.length > 1 ? `${selected.length} guests` : "guest"}</button>
          </div>
        </div>
      </Card>
    </div>
  );
}
