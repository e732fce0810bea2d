import { Appliance, converterFor, inspectGuestOs } from "../../convert";
import { checkGuestFreeSpace } from "../../convert/free-space";
import { describeOs } from "../../convert/guest";
import { FerryError } from "../../errors";
import { formatBytes } from "../../units";
import type { Stage } from "../context";

/** The guest's stages: one appliance inspects, checks and converts it, writing only to the overlays. */

export const inspectOverlay: Stage = {
  name: "Inspecting the overlay",
  run: async (ctx) => {
    if (ctx.plan.copyOnly) {
      ctx.warn("pipeline.copy-only", "copy-only: the guest is neither inspected nor converted; it may not boot on KVM");
      return "skipped";
    }
    ctx.appliance = await Appliance.launch({ drives: ctx.overlays.map((path) => ({ path, format: "qcow2" as const })), signal: ctx.signal, trace: ctx.options.verbose ? ctx.log : undefined, env: await ctx.input.qemuEnv() });
    ctx.log(`libguestfs appliance up (${ctx.appliance.accel.reason})`);
    const g = await inspectGuestOs(ctx.appliance);
    ctx.guest = g;
    ctx.emit({ type: "inspection", t: ctx.t(), guest: g });
    ctx.log(`${describeOs(g)} (${g.type}, ${g.arch}); root ${g.root}; package format ${g.packageFormat}${g.initramfsTool ? `; initramfs by ${g.initramfsTool}` : ""}`);
    for (const c of g.fsChecks) ctx.log(`${c.mountpoint} (${c.device}, ${c.type}): ${c.result}: ${c.detail}`);
    for (const c of g.fsChecks.filter((x) => x.result === "dirty-log")) ctx.warn("convert.fs-dirty", `${c.mountpoint} (${c.device}): ${c.detail}`);
    for (const k of g.kernels) ctx.log(`kernel ${k.version}: ${Object.entries(k.virtio).map(([d, w]) => `${d} ${w}`).join(", ")}`);
    if (g.vmwareTools.length) ctx.log(`VMware tools: ${g.vmwareTools.join(", ")}`);
    for (const u of g.unmounted) ctx.warn("convert.unmounted", `a guest filesystem did not mount, so the conversion cannot see or change it: ${u}`);
  },
};

export const checkFreeSpace: Stage = {
  name: "Checking for sufficient free disk space in the guest",
  run: ({ guest, log }) => {
    if (!guest) return "skipped";
    for (const f of guest.filesystems) log(`${f.mountpoint} (${f.device}): ${formatBytes(f.freeBytes)} free of ${formatBytes(f.sizeBytes)}, ${f.freeInodes} free inodes`);
    checkGuestFreeSpace(guest.filesystems);
  },
};

export const convertGuest: Stage = {
  name: "Converting the guest to run on KVM",
  run: async (ctx) => {
    const { appliance, guest, plan } = ctx;
    if (!appliance || !guest || !plan.conversion) return "skipped";
    // The converter refuses what it cannot convert before it writes anything.
    const converter = converterFor(guest);
    const target = { firmware: plan.firmware, diskBus: plan.disks[0]?.bus ?? "virtio", virtioWin: plan.conversion.virtioWin };
    converter.check(guest, target);
    ctx.converter = converter;
    const report = await converter.convert(appliance, guest, {
      devices: new Map(Object.entries(plan.conversion.devices)),
      nics: plan.conversion.nics,
      targetDisks: plan.disks.map((d) => d.dev),
      ...target,
      log: ctx.log,
      warn: ctx.warn,
    });
    ctx.conversion = report;
    ctx.emit({ type: "conversion", t: ctx.t(), report });
  },
};

export const trimFilesystems: Stage = {
  name: "Mapping filesystem data to avoid copying unused and blank areas",
  run: async ({ appliance, guest, log }) => {
    if (!appliance || !guest) return "skipped";
    for (const m of guest.filesystems) {
      // Discarded blocks become holes in the overlay, so the copy skips them.
      try {
        await appliance.call("fstrim", m.mountpoint);
      } catch (e) {
        if (!(e instanceof FerryError) || e.code !== "guestfs.call") throw e;
        log(`${m.mountpoint}: not trimmed (${e.message}); its free blocks are copied`);
      }
    }
  },
};

export const closeOverlay: Stage = {
  name: "Closing the overlay",
  run: async (ctx) => {
    if (!ctx.appliance) return "skipped";
    await ctx.appliance.close();
    ctx.appliance = null;
  },
};
