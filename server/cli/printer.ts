import { describeOs } from "../convert/guest";
import { formatBytes } from "../units";
import type { PipelineEvent } from "../pipeline";
import type { CliIo } from "./main";

/** `--machine-readable`: one JSON object per event, unchanged. */
export function jsonPrinter(io: CliIo): (e: PipelineEvent) => void {
  return (e) => io.out(JSON.stringify(e) + "\n");
}

/** `[  12.3] Stage name` lines as virt-v2v prints them, and a progress bar on a terminal. */
export function humanPrinter(io: CliIo, verbose: boolean, tty = Boolean(process.stdout.isTTY)): (e: PipelineEvent) => void {
  let barShown = false;
  const clearBar = () => {
    if (barShown) io.out("\r\x1b[K");
    barShown = false;
  };
  return (e) => {
    switch (e.type) {
      case "stage":
        if (e.state === "started") {
          clearBar();
          io.out(`[${e.t.toFixed(1).padStart(6)}] ${e.name}\n`);
        }
        break;
      case "progress":
        if (tty) {
          const pct = e.bytesTotal ? (100 * e.bytesDone) / e.bytesTotal : 100;
          const width = 30;
          const fill = Math.round((pct / 100) * width);
          io.out(`\r\x1b[K    [${"#".repeat(fill)}${" ".repeat(width - fill)}] ${pct.toFixed(1).padStart(5)}%  ${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)}  ${formatBytes(e.rate)}/s${e.rate === 0 && e.bytesDone < e.bytesTotal ? "  (no data moving)" : ""}`);
          barShown = true;
        }
        break;
      case "log":
        if (verbose) {
          clearBar();
          io.err(`ferry: ${e.message}\n`);
        }
        break;
      case "warning":
        clearBar();
        io.err(`ferry: warning: ${e.message}\n`);
        break;
      case "error":
        clearBar();
        break; // the CLI prints the error once, as ferry: error: FILE: message
      case "inspection":
        clearBar();
        io.err(
          e.guest.windows
            ? `ferry: guest: ${describeOs(e.guest)} ${e.guest.majorVersion}.${e.guest.minorVersion}${e.guest.windows.build ? ` build ${e.guest.windows.build}` : ""}${e.guest.windows.edition ? `, ${e.guest.windows.edition}` : ""} (${e.guest.arch}), system root ${e.guest.windows.systemRoot} on ${e.guest.root}, boots from ${e.guest.windows.bootPartition ?? "an unknown partition"}\n`
            : `ferry: guest: ${describeOs(e.guest)} (${e.guest.arch}), root ${e.guest.root}, ${e.guest.kernels.length} kernel${e.guest.kernels.length === 1 ? "" : "s"}\n`,
        );
        break;
      case "conversion": {
        clearBar();
        const r = e.report;
        if (r.family === "windows") {
          io.err(`ferry: converted ${r.product} (${r.version}) for ${r.devices === "virtio" ? `virtio (${r.blockDriver} from ${r.virtioWin})` : "emulated SATA and e1000e (storahci starts at boot)"}; ${r.registry.length} registry values set; VMware services disabled: ${r.vmwareDisabled.join(", ") || "none"}; first boot: ${r.firstboot.files.map((f) => f.path).join(", ")}\n`);
          for (const x of r.registry) io.err(`ferry:   ${x.key}\\${x.name} = ${x.value} (was ${x.previous})\n`);
          break;
        }
        const parts = [
          r.removedTools.length ? `removed ${r.removedTools.join(", ")}` : null,
          r.initramfs.present.length ? `initramfs already had ${r.initramfs.present.join(", ")}` : null,
          r.initramfs.rebuilt ? `initramfs rebuilt by ${r.initramfs.tool}${r.initramfs.added.length ? ` with ${r.initramfs.added.join(", ")}` : ""} (${r.initramfs.reasons.join("; ")})` : null,
          r.initramfs.appended.length ? `initramfs carries ${r.initramfs.appended.join(", ")}` : null,
          r.lvmDevicesRemoved.length ? `removed ${r.lvmDevicesRemoved.join(", ")}` : null,
          r.remapped.length ? `renamed ${[...new Set(r.remapped.map((x) => `${x.from} → ${x.to}`))].join(", ")}` : null,
          ...r.nics.map((n) => `${n.sourceId} ${n.approach === "pinned" ? `keeps ${n.kvmName} (pinned to ${n.mac})` : n.approach === "renamed" ? `${n.guestName} → ${n.kvmName}` : `is ${n.kvmName}`}`),
          r.network.length ? `network ${[...new Set(r.network.map((x) => `${x.from} → ${x.to}`))].join(", ")}` : null,
          r.uefi ? `UEFI: ${r.uefi.fallback === "installed" ? `fallback loader installed (${r.uefi.fallbackFiles.join(", ")})` : "fallback loader present"}${r.uefi.bootEntry ? `, boot entry "${r.uefi.bootEntry.description}" → ${r.uefi.bootEntry.path}` : ""}` : null,
        ].filter(Boolean);
        io.err(`ferry: converted (kernel ${r.kernel}): ${parts.join("; ")}\n`);
        break;
      }
      case "boot":
        clearBar();
        if (e.ok) io.err(`ferry: boot check passed in ${e.seconds} s (${e.accel}): "${e.line}"${e.bootEntry ? `, firmware started ${e.bootEntry}` : ""}\n`);
        for (const n of e.nics ?? []) io.err(`ferry: boot check: NIC ${n.mac} (${n.model}): ${[n.dhcp ? "DHCP request" : "", n.addresses.length ? `announced ${n.addresses.join(", ")}` : ""].filter(Boolean).join(", ") || "silent"}\n`);
        break;
      case "domain":
        clearBar();
        io.err(`ferry: libvirt domain "${e.name}" on ${e.uri}: ${e.state}${e.started ? " (started)" : ""}; volumes in pool "${e.pool}": ${e.volumes.map((v) => v.split("/").at(-1)).join(", ")}\n`);
        break;
      case "result":
        clearBar();
        for (const f of e.files) io.out(`    ${f.path}  ${formatBytes(f.bytes)}\n`);
        break;
    }
  };
}
