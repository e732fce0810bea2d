import { FerryError } from "../../errors";
import { bootCheckFiles } from "../../output/output";
import { pciLayout } from "../../plan/pci-layout";
import { bootCheck } from "../../qemu/boot-check";
import { staticAddressOf } from "../../convert/guest";
import type { Stage } from "../context";

export const checkBoot: Stage = {
  name: "Checking that the guest boots",
  run: async (ctx) => {
    const { plan, conversion, output } = ctx;
    if (!plan.bootCheck) return "skipped";
    if (conversion?.family === "linux" && !conversion.serialConsole) {
      // Without console=ttyS0 a good guest shows no login prompt where the check listens.
      ctx.warn("boot-check.no-serial", "the boot check was skipped: Ferry could not put the kernel's console on the serial port (no /etc/default/grub); the guest is not verified");
      return "skipped";
    }
    const layout = pciLayout(plan);
    const names = bootCheckFiles(plan);
    const r = await bootCheck({
      disks: plan.disks.map((d, i) => ({ path: output!.stagedDisks[i]!, format: plan.format, bus: d.bus, pciBus: layout.diskBus[i] ?? null })),
      // A static address found in the guest's configuration is asked for on its NIC.
      nics: plan.nics.map((nic, i) => ({ model: nic.model, mac: nic.mac, pciBus: layout.nicBus[i]!, staticAddress: staticAddressOf(conversion, nic) })),
      proof: plan.bootProof,
      rootPorts: layout.rootPorts,
      firmware: plan.firmware,
      // UEFI guests boot with the variables Ferry ships (their own boot entry) and nothing else.
      uefiVars: output!.stagedUefiVars ?? undefined,
      secureBoot: plan.secureBoot,
      memoryMiB: plan.memoryMiB,
      vcpus: plan.vcpus,
      consoleLog: output!.stageFile(names.console, "console"),
      screenshot: output!.stageFile(names.screenshot, "screenshot"),
      timeoutMs: ctx.options.bootTimeoutMs,
      signal: ctx.signal,
      log: ctx.log,
    });
    ctx.emit({ type: "boot", t: ctx.t(), ok: r.ok, seconds: r.seconds, accel: r.accel, line: r.line, failure: r.failure, lastLines: r.lastLines, dhcpFrom: r.dhcpFrom, nics: r.nics, firmware: r.firmware, bootEntry: r.bootEntry, proof: plan.bootProof, screenshots: r.screenshots.length ? r.screenshots : undefined });
    if (!r.ok) {
      throw new FerryError({
        code: "boot-check.failed",
        message: plan.bootProof === "network" ? `${r.failure} (after ${r.seconds} s); the job's boot check shows the screenshots` : `${r.failure} (after ${r.seconds} s). Last console lines:\n${r.lastLines.map((l) => `  ${l}`).join("\n")}`,
        file: null,
        hint: "the output was not kept; run with --no-boot-check to keep an unverified copy, or -v for the whole console",
      });
    }
    ctx.log(plan.bootProof === "network" ? `network up after ${r.seconds} s: ${r.line}` : `login prompt after ${r.seconds} s: "${r.line}"${r.bootEntry ? `; the firmware started ${r.bootEntry}` : ""}`);
    r.nics.forEach((n, i) => {
      const what = [n.dhcp ? "a DHCP request" : "", n.addresses.length ? `its address ${n.addresses.join(", ")}` : ""].filter(Boolean).join(" and ");
      if (what) ctx.log(`${plan.nics[i]?.sourceId ?? `NIC ${i + 1}`} (${n.mac}): sent ${what}`);
      else ctx.warn("boot-check.network", `${plan.nics[i]?.sourceId ?? `NIC ${i + 1}`} (${n.mac}) sent neither a DHCP request nor an ARP from a static address: its configuration may not have come up on KVM`);
    });
  },
};
