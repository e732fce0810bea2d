/** The Target step's virtio-win field: what the configured tree holds, and whether Windows guests use it. */
export function VirtioWinField({ virtioWin, checked, onChange }: { virtioWin: { path: string | null; supports: string[]; error: string | null } | undefined; checked: boolean; onChange: (v: boolean) => void }) {
  if (!virtioWin) return <span className="text-xs text-slate-500">…</span>;
  if (!virtioWin.path) {
    return <span className="text-xs" aria-label="virtio-win">None configured (the virtioWin setting): Windows guests get emulated SATA disks and an e1000e NIC, with Windows&apos; own AHCI driver made to start at boot.</span>;
  }
  if (virtioWin.error) return <span className="text-xs text-red-700" aria-label="virtio-win">{virtioWin.path}: {virtioWin.error}</span>;
  const versions = [...new Set(virtioWin.supports.map((s) => s.replace(/\/x86_64$/, "").replace(/\/i386$/, " (32-bit)")))];
  return (
    <label className="flex items-start gap-2" aria-label="virtio-win">
      <input type="checkbox" className="mt-1" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <span>
        Install virtio drivers from <span className="font-mono text-xs">{virtioWin.path}</span>
        <span className="block text-xs text-slate-500">Boot drivers for: {versions.join(", ") || "no Windows version"}. Off, or a Windows it lacks: SATA and e1000e.</span>
      </span>
    </label>
  );
}
