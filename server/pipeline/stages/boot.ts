import { FerryError } from "../../errors";
import { bootCheckFiles } from "../../output/output";
import { pciLayout } from "../../plan/pci-layout";
import { bootCheck } from "../../qemu/boot-check";
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
      nics: plan.nics.map((nic, i) => ({ model: nic.model, mac: nic.mac, pciBus: layout.nicBus[i]! })),
      rootPorts: layout.rootPorts,
      firmware: plan.firmware,
      memoryMiB: plan.memoryMiB,
      vcpus: plan.vcpus,
      consoleLog: output!.stageFile(names.console, "console"),
      screenshot: output!.stageFile(names.screenshot, "screenshot"),
      timeoutMs: ctx.options.bootTimeoutMs,
      signal: ctx.signal,
      log: ctx.log,
    });
    ctx.emit({ type: "boot", t: ctx.t(), ok: r.ok, seconds: r.seconds, accel: r.accel, line: r.line, failure: r.failure, lastLines: r.lastLines, dhcpFrom: r.dhcpFrom });
    if (!r.ok) {
      throw new FerryError({
        code: "boot-check.failed",
        message: `${r.failure} (after ${r.seconds} s). Last console lines:\n${r.lastLines.map((l) => `  ${l}`).join("\n")}`,
        file: null,
        hint: "the output was not kept; run with --no-boot-check to keep an unverified copy, or -v for the whole console",
      });
    }
    ctx.log(`login prompt after ${r.seconds} s: "${r.line}"`);
    if (plan.nics.length) {
      if (r.dhcpFrom.length) ctx.log(`network up: DHCP request from ${r.dhcpFrom.join(", ")}`);
      else ctx.warn("boot-check.network", "the guest booted but sent no DHCP request: its network configuration may not match the new NIC (or it uses a static address)");
    }
  },
};
