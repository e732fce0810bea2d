"use client";

import { useMutation, useQueries, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { formatBytes } from "@/server/units";
import { useTRPC } from "../TrpcProvider";
import { Alert, Badge, btn, btnPrimary, Card, ErrorBox, input, Steps, td, th } from "../ui";
import { GuestPreview } from "./GuestPreview";
import { jobOptions, NAME_OK, type CommonOptions, type GuestChoices } from "./options";
import { SourceStep, type SelectedGuest } from "./SourceStep";
import { useAtLeast } from "../Nav";
import { VirtioWinField } from "./VirtioWinField";

const STEPS = ["Source", "Preview", "Target", "Review"];
const key = (g: SelectedGuest) => `${g.share}:${g.relPath}`;

/** The import wizard: source → preview → target → review → jobs. */
export function ImportWizard() {
  const trpc = useTRPC();
  const router = useRouter();
  const [step, setStep] = useState(0);
  const [selected, setSelected] = useState<SelectedGuest[]>([]);
  const [common, setCommon] = useState<CommonOptions>({ output: "local", format: "raw", allocation: "sparse", copyOnly: false, bootCheck: true, autoRetry: 0, useVirtioWin: true });
  const [choices, setChoices] = useState<Record<string, GuestChoices>>({});
  const [tab, setTab] = useState(0);
  const health = useQuery({ ...trpc.system.health.queryOptions(), enabled: step >= 2 });
  const hosts = useQuery({ ...trpc.jobs.hosts.queryOptions(), enabled: step >= 2 });

  // The first preview (no options) gives each guest's NICs and serves the Preview step;
  // from Target on, previews follow the choices (one inspection per guest until then).
  const base = useQueries({ queries: selected.map((g) => ({ ...trpc.vm.preview.queryOptions({ share: g.share, relPath: g.relPath }), enabled: step >= 1 })) });
  const previews = useQueries({
    queries: selected.map((g, i) => {
      const nics = base[i]?.data?.vm.nics ?? [];
      return { ...trpc.vm.preview.queryOptions({ share: g.share, relPath: g.relPath, options: jobOptions(common, choices[key(g)], nics) }), enabled: step >= 2 && base[i]?.data !== undefined, placeholderData: (prev: unknown) => prev as never };
    }),
  });
  const create = useMutation(trpc.jobs.create.mutationOptions());
  const operator = useAtLeast("operator");

  const blocked = (i: number) => (base[i]?.data?.vm.concerns ?? []).some((c) => c.severity === "critical") || base[i]?.isError;
  const importable = selected.filter((_, i) => base[i]?.data && !blocked(i));
  const setChoice = (g: SelectedGuest, f: (c: GuestChoices) => GuestChoices) => setChoices((all) => ({ ...all, [key(g)]: f(all[key(g)] ?? { nics: {}, excludeDisks: [] }) }));

  const start = async () => {
    const ids: string[] = [];
    for (const g of importable) {
      const i = selected.indexOf(g);
      const r = await create.mutateAsync({ guests: [{ share: g.share, relPath: g.relPath }], options: jobOptions(common, choices[key(g)], base[i]!.data!.vm.nics) });
      ids.push(...r.jobs.map((j) => j.id));
    }
    router.push(ids.length === 1 ? `/jobs/${ids[0]}` : "/jobs");
  };

  const guestTabs = (
    <div role="tablist" aria-label="Selected guests" className="flex flex-wrap gap-1">
      {selected.map((g, i) => (
        <button key={key(g)} role="tab" type="button" aria-selected={tab === i} onClick={() => setTab(i)} className={`rounded-t-md border-b-2 px-3 py-1 text-sm ${tab === i ? "border-sky-600 font-semibold" : "border-transparent text-slate-500"}`}>
          {g.name} {blocked(i) && <Badge tone="critical">blocked</Badge>}
        </button>
      ))}
    </div>
  );
  const cur = selected[Math.min(tab, selected.length - 1)];
  const ci = cur ? selected.indexOf(cur) : -1;
  const pv = ci >= 0 ? (previews[ci]?.data ?? base[ci]?.data) : undefined;
  const targetName = common.target ?? health.data?.outputs[0]?.name ?? "";
  const chosenTarget = health.data?.outputs.find((o) => o.name === targetName);

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-semibold">Import VMware guests</h1>
        <Steps steps={STEPS} current={step} />
      </div>

      {step === 0 && <SourceStep selected={selected} onChange={setSelected} onNext={() => { setTab(0); setStep(1); }} />}

      {step >= 1 && selected.length > 0 && (
        <>
          {guestTabs}
          {ci >= 0 && base[ci]?.isLoading && <p className="text-sm text-slate-500" role="status">Reading {cur!.name} and its disks…</p>}
          {ci >= 0 && <ErrorBox error={base[ci]?.error} title={`${cur!.name} cannot be read`} />}
        </>
      )}

      {step === 1 && pv && <GuestPreview vm={pv.vm} vmxLines={pv.vmxLines} />}

      {step === 2 && pv && cur && (
        <div className="grid gap-4 lg:grid-cols-2">
          <Card title="Target (all selected guests)" id="target-heading">
            <div className="grid grid-cols-[10rem_minmax(0,1fr)] items-center gap-2 text-sm">
              <label htmlFor="t-folder" className="font-medium">Target</label>
              <select id="t-folder" className={`${input} w-full min-w-0`} value={targetName} onChange={(e) => {
                const t = health.data?.outputs.find((o) => o.name === e.target.value);
                // A libvirt pool makes the output a libvirt domain; a folder takes the kinds of files.
                setCommon({ ...common, target: e.target.value, output: t?.kind === "libvirt" ? "libvirt" : common.output === "libvirt" ? "local" : common.output, start: t?.kind === "libvirt" ? common.start : false });
              }}>
                {health.data?.outputs.map((o) => <option key={o.name} value={o.name}>{o.name}: {o.kind === "libvirt" ? `libvirt ${o.where}` : o.where}{o.freeBytes !== null ? ` (${formatBytes(o.freeBytes)} free)` : o.error ? " (unreachable)" : ""}</option>)}
              </select>
              {chosenTarget && (
                <>
                  <span className="font-medium">Free space</span>
                  <span data-testid="target-free" className="break-all">
                    {chosenTarget.freeBytes !== null ? <>{formatBytes(chosenTarget.freeBytes)} free in {chosenTarget.kind === "libvirt" ? `storage ${chosenTarget.where}` : chosenTarget.where}</> : <span className="text-red-700">{chosenTarget.error ?? "unknown"}</span>}
                  </span>
                </>
              )}
              <label htmlFor="t-output" className="font-medium">Output</label>
              {chosenTarget?.kind === "libvirt" ? (
                <span id="t-output">a libvirt domain, its disks volumes of the pool</span>
              ) : (
                <select id="t-output" className={input} value={common.output} onChange={(e) => setCommon({ ...common, output: e.target.value as CommonOptions["output"] })}>
                  <option value="local">libvirt domain (XML)</option>
                  <option value="qemu">qemu script</option>
                  <option value="json">JSON description</option>
                </select>
              )}
              {chosenTarget?.kind === "libvirt" && (
                <>
                  <span className="font-medium">Start</span>
                  <label className="flex items-center gap-2">
                    <input type="checkbox" checked={common.start ?? false} onChange={(e) => setCommon({ ...common, start: e.target.checked })} />
                    <span>Start the guest once it is defined</span>
                  </label>
                </>
              )}
              <label htmlFor="t-format" className="font-medium">Disk format</label>
              <select id="t-format" className={input} value={common.format} onChange={(e) => setCommon({ ...common, format: e.target.value as CommonOptions["format"] })}>
                <option value="raw">raw</option>
                <option value="qcow2">qcow2</option>
              </select>
              <label htmlFor="t-alloc" className="font-medium">Allocation</label>
              <select id="t-alloc" className={input} value={common.allocation} onChange={(e) => setCommon({ ...common, allocation: e.target.value as CommonOptions["allocation"] })}>
                <option value="sparse">sparse (only data is written)</option>
                <option value="preallocated">preallocated</option>
              </select>
              <label htmlFor="t-rate" className="font-medium">Bandwidth limit</label>
              <span className="flex items-center gap-2">
                <input id="t-rate" type="number" min={1} className={`${input} w-28`} placeholder="no limit" value={common.rateLimitMiBps ?? ""} onChange={(e) => setCommon({ ...common, rateLimitMiBps: e.target.value ? Math.max(1, Math.floor(Number(e.target.value))) : undefined })} />
                <span className="text-xs text-slate-500">MiB/s per disk, to spare a busy NAS</span>
              </span>
              <label htmlFor="t-host" className="font-medium">Conversion host</label>
              <select id="t-host" className={input} value={common.host ?? ""} onChange={(e) => setCommon({ ...common, host: e.target.value || undefined })}>
                <option value="">any host</option>
                {hosts.data?.hosts.map((h) => <option key={h.name} value={h.name}>{h.name} ({h.state}{h.state === "online" ? `, ${h.jobsRunning} of ${h.concurrency} jobs` : ""})</option>)}
              </select>
              <label htmlFor="t-retry" className="font-medium">Automatic retry</label>
              <span className="flex items-center gap-2">
                <select id="t-retry" className={`${input} w-28`} value={common.autoRetry} onChange={(e) => setCommon({ ...common, autoRetry: Number(e.target.value) })}>
                  {[0, 1, 2, 3].map((n) => <option key={n} value={n}>{n === 0 ? "off" : `${n} time${n > 1 ? "s" : ""}`}</option>)}
                </select>
                <span className="text-xs text-slate-500">when the host running a job stops (its partial outputs are removed first)</span>
              </span>
              <span className="font-medium">Guest conversion</span>
              <label className="flex items-center gap-2">
                <input type="checkbox" checked={!common.copyOnly} onChange={(e) => setCommon({ ...common, copyOnly: !e.target.checked, bootCheck: e.target.checked ? common.bootCheck : false })} />
                <span>Convert for KVM <span className="text-xs text-slate-500">(virtio drivers, disk and NIC names, VMware tools removed; off: copy as is on SATA/e1000e)</span></span>
              </label>
              <span className="font-medium">virtio-win (Windows)</span>
              <VirtioWinField virtioWin={health.data?.virtioWin} checked={common.useVirtioWin} onChange={(useVirtioWin) => setCommon({ ...common, useVirtioWin })} />
              <span className="font-medium">Boot check</span>
              <label className="flex items-center gap-2">
                <input type="checkbox" checked={common.bootCheck} onChange={(e) => setCommon({ ...common, bootCheck: e.target.checked })} />
                <span>Boot the result and wait for a login prompt <span className="text-xs text-slate-500">(isolated network; console log and screenshot kept)</span></span>
              </label>
            </div>
          </Card>
          <Card title={`${cur.name}`} id="guest-target-heading">
            <div className="space-y-3 text-sm">
              <label className="block">
                <span className="font-medium">Name on KVM</span>
                <input className={`${input} mt-1 block w-full`} aria-describedby="name-help" value={choices[key(cur)]?.name ?? pv.plan?.name ?? ""} onChange={(e) => setChoice(cur, (c) => ({ ...c, name: e.target.value }))} />
                <span id="name-help" className={`text-xs ${choices[key(cur)]?.name && !NAME_OK.test(choices[key(cur)]!.name!) ? "text-red-700 dark:text-red-300" : "text-slate-500"}`}>
                  {choices[key(cur)]?.name && !NAME_OK.test(choices[key(cur)]!.name!) ? `Letters, digits, '.', '_', '+' and '-' only; for example “${pv.plan?.name ?? "guest"}”.` : "Letters, digits, '.', '_', '+' and '-'."}
                </span>
              </label>
              <fieldset>
                <legend className="font-medium">Disks</legend>
                {pv.vm.disks.map((d) => (
                  <label key={d.id} className="flex items-center gap-2">
                    <input type="checkbox" checked={!(choices[key(cur)]?.excludeDisks ?? []).includes(d.id)} onChange={(e) => setChoice(cur, (c) => ({ ...c, excludeDisks: e.target.checked ? c.excludeDisks.filter((x) => x !== d.id) : [...c.excludeDisks, d.id] }))} />
                    {d.id} <span className="font-mono text-xs">{d.file}</span>
                  </label>
                ))}
              </fieldset>
              <fieldset>
                <legend className="font-medium">Networks</legend>
                {pv.vm.nics.map((n, i) => {
                  const planned = pv.plan?.nics.find((p) => p.sourceId === n.id)?.network;
                  const c = choices[key(cur)]?.nics[n.id] ?? planned ?? { type: "network" as const, name: "default" };
                  return (
                    <div key={n.id} className="mt-1 flex flex-wrap items-center gap-2">
                      <span className="w-24">{n.id}</span>
                      <span className="w-28 text-xs text-slate-500">{n.network ?? "no network"}</span>
                      <select aria-label={`${n.id} connects to a`} className={input} value={c.type} onChange={(e) => setChoice(cur, (x) => ({ ...x, nics: { ...x.nics, [n.id]: { ...c, type: e.target.value as "network" | "bridge" } } }))}>
                        <option value="network">libvirt network</option>
                        <option value="bridge">bridge</option>
                      </select>
                      <input aria-label={`${n.id} network or bridge name`} className={input} value={c.name} onChange={(e) => setChoice(cur, (x) => ({ ...x, nics: { ...x.nics, [n.id]: { ...c, name: e.target.value } } }))} />
                      {!n.mac && i >= 0 && <span className="text-xs text-slate-500">(no MAC: mapped by its network name)</span>}
                    </div>
                  );
                })}
              </fieldset>
            </div>
          </Card>
        </div>
      )}

      {step === 3 && pv && cur && (
        <div className="space-y-4">
          {blocked(ci) ? (
            <Alert tone="critical" title={`${cur.name} will not be imported`}>It has a critical concern (see Preview).</Alert>
          ) : pv.plan ? (
            <>
              <Card title={`${cur.name}: VMware → KVM`} id="review-heading">
                <div className="overflow-x-auto">
                  <table className="w-full text-sm" aria-label="Changes">
                    <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>What</th><th className={th}>VMware</th><th className={th}>KVM</th><th className={th}>Why</th></tr></thead>
                    <tbody>
                      <tr className="border-b border-slate-100 dark:border-slate-800"><td className={td}>CPUs, memory</td><td className={td}>{pv.vm.vcpus} vCPU, {pv.vm.memoryMiB} MiB</td><td className={td}>{pv.plan.vcpus} vCPU, {pv.plan.memoryMiB} MiB</td><td className={td}>unchanged</td></tr>
                      {pv.plan.changes.map((c, i) => (
                        <tr key={i} className="border-b border-slate-100 dark:border-slate-800"><td className={td}>{c.subject}</td><td className={td}>{c.from}</td><td className={td}>{c.to}</td><td className={`${td} text-slate-600 dark:text-slate-300`}>{c.reason}</td></tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <p className="mt-3 text-sm">
                  Estimated target size: <strong>{formatBytes(pv.estimateBytes)}</strong>
                  {pv.outputFreeBytes !== null && <> · free in the target folder: <strong>{formatBytes(pv.outputFreeBytes)}</strong></>}
                  {pv.outputFreeBytes !== null && pv.outputFreeBytes < pv.estimateBytes && <Badge tone="critical">not enough space</Badge>}
                </p>
                <p className="mt-1 text-xs text-slate-500">
                  {pv.plan.copyOnly ? "Copy-only: the guest keeps its VMware drivers and boots on SATA disks and e1000e NICs." : "The guest is converted in a protective overlay before its disks are copied; nothing on the NAS is written."}
                  {pv.plan.bootCheck ? " The result is booted under qemu before the job finishes." : ""}
                </p>
              </Card>
              <Card title={common.output === "local" ? "libvirt XML that will be written" : common.output === "qemu" ? "Script that will be written" : "JSON that will be written"} id="xml-heading">
                <pre className="max-h-96 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950">{pv.metadata}</pre>
              </Card>
            </>
          ) : (
            <ErrorBox error={pv.planError ? { message: pv.planError.message, data: { ferry: pv.planError } } : null} title="The target cannot be planned" />
          )}
          <ErrorBox error={create.error} title="The import could not start" />
        </div>
      )}

      {step >= 1 && (
        <div className="flex items-center justify-between border-t border-slate-200 pt-3 dark:border-slate-800">
          <button type="button" className={btn} onClick={() => setStep(step - 1)}>Back</button>
          {step < 3 ? (
            <button type="button" className={btnPrimary} disabled={importable.length === 0} onClick={() => setStep(step + 1)}>
              Next: {STEPS[step + 1]}
            </button>
          ) : (
            <span className="flex items-center gap-3">
              {operator === false && <span className="text-sm text-slate-500">Your account is a viewer: an operator or an admin starts imports.</span>}
              <button type="button" className={btnPrimary} disabled={operator === false || importable.length === 0 || create.isPending} onClick={start}>
                {create.isPending ? "Starting…" : `Start import of ${importable.length} guest${importable.length === 1 ? "" : "s"}`}
              </button>
            </span>
          )}
        </div>
      )}
      {step >= 1 && importable.length === 0 && selected.every((_, i) => base[i]?.data || base[i]?.isError) && (
        <Alert tone="critical" title="None of the selected guests can be imported">Each has a critical concern or could not be read. Go back and pick another.</Alert>
      )}
    </div>
  );
}
