import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors";
import { shellQuote } from "../shell";
import type { Appliance } from "./appliance";
import type { ConvertTarget, Converter } from "./converter";
import { describeOs, VIRTIO_DRIVERS, type GuestInspection, type GuestKernel, type LinuxConversionReport } from "./guest";
import { readGuestInitramfs } from "./inspect";
import { cpioArchive, insertEarlyArchive, type Compression } from "./initramfs";
import { keepNetworkIdentity, type LinkFile } from "./linux-network";
import type { SideBySideResult } from "./side-by-side";
import { addModuleLines, ensureSerialConsole, pinKernelRoot, remapDevices } from "./remap";
import { ensureUefiBoot, refuseWithoutEsp } from "./uefi";

/**
 * Linux conversion, as virt-v2v does it but checking before changing:
 * VMware tools go, the kernel's initramfs gets virtio drivers only when
 * they are missing, device and interface names follow the new hardware,
 * the kernel also speaks on the serial console, SELinux relabels.
 */

/** Refuse before anything is copied: each message says why and what to do. */
export function refuseUnconvertible(g: GuestInspection): GuestKernel {
  if (g.kernels.length === 0) {
    throw new FerryError({ code: "convert.no-kernel", message: `${describeOs(g)} has no kernel in /boot (with modules under /lib/modules)`, file: null, hint: "install a kernel package in the guest on VMware and run Ferry again, or use --copy-only (in the wizard: untick “Convert for KVM”)" });
  }
  const usable = g.kernels.find((k) => VIRTIO_DRIVERS.every((d) => k.virtio[d] !== "missing"));
  if (!usable) {
    const k = g.kernels[0]!;
    const missing = VIRTIO_DRIVERS.filter((d) => k.virtio[d] === "missing");
    throw new FerryError({ code: "convert.no-virtio", message: `no kernel of the guest has the virtio drivers (kernel ${k.version} lacks ${missing.join(", ")})`, file: null, hint: "install a kernel with virtio support (any distribution kernel since 2.6.25 has it) on VMware, then run Ferry again" });
  }
  if (!usable.initrd) {
    throw new FerryError({ code: "convert.no-initramfs", message: `kernel ${usable.version} has no initramfs in /boot`, file: null, hint: "create one in the guest (update-initramfs -c -k VERSION or dracut) and run Ferry again" });
  }
  if (g.packageFormat !== "deb" && g.packageFormat !== "rpm") {
    throw new FerryError({ code: "convert.unsupported-distro", message: `${describeOs(g)}: Ferry converts Debian/Ubuntu (deb) and RHEL-family (rpm) guests, not ${g.distro}`, file: null, hint: "use --copy-only (in the wizard: untick “Convert for KVM”)" });
  }
  if (!g.initramfsTool) {
    throw new FerryError({ code: "convert.no-initramfs-tool", message: `${describeOs(g)} has no initramfs tool (dracut, update-initramfs or mkinitrd) to add the virtio drivers with`, file: null, hint: "install the distribution's initramfs tool in the guest on VMware, then run Ferry again" });
  }
  return usable;
}

export const linuxConverter: Converter = {
  osTypes: ["linux"],
  check(g, target) {
    refuseUnconvertible(g);
    if (target.firmware === "uefi") refuseWithoutEsp(g);
  },
  convert: convertLinux,
};

/** What dpkg and rpm accept as a package name; anything else from a guest never reaches a shell. */
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;

/**
 * dracut compresses at its maximum level (gzip -9, zstd -15): under
 * emulation that is most of a rebuild (a minute of gzip -9 for 20 MiB).
 * The image keeps the format it had, so the guest's kernel unpacks it as
 * before, at the compressor's own default level: gzip -6 makes it 1% larger
 * in a sixth of the time. Other formats are left to dracut.
 */
export const DRACUT_COMPRESS: Partial<Record<Compression, string>> = {
  gzip: "gzip -n -6",
  zstd: "zstd -q -3 -T0",
};

/** The rebuild, with the tool the guest has installed (dracut also gets the drivers on its command line). */
export function rebuildCommand(tool: NonNullable<GuestInspection["initramfsTool"]>, k: GuestKernel, drivers: string[], compression: Compression | null = null): string {
  const v = shellQuote(k.version);
  const img = shellQuote(k.initrd!);
  if (tool === "update-initramfs") return `update-initramfs -u -k ${v}`;
  if (tool === "dracut") {
    const compress = compression ? DRACUT_COMPRESS[compression] : undefined;
    return `dracut -f${compress ? ` --compress ${shellQuote(compress)}` : ""}${drivers.length ? ` --add-drivers ${shellQuote(drivers.join(" "))}` : ""} ${img} ${v}`;
  }
  return `mkinitrd -f${drivers.map((d) => ` --with=${shellQuote(d)}`).join("")} ${img} ${v}`;
}

export async function convertLinux(app: Appliance, g: GuestInspection, target: ConvertTarget): Promise<LinuxConversionReport> {
  const kernel = refuseUnconvertible(g);
  const tool = g.initramfsTool!;
  const report: LinuxConversionReport = {
    family: "linux",
    kernel: kernel.version,
    removedTools: [],
    initramfs: { file: kernel.initrd!, tool, rebuilt: false, reasons: [], added: [], present: [], appended: [] },
    remapped: [],
    network: [],
    nics: [],
    lvmDevicesRemoved: [],
    uefi: null,
    serialConsole: false,
    grubRegenerated: false,
    selinuxRelabel: false,
  };
  const read = (path: string) => app.readText(path);
  const write = (path: string, text: string) => app.writeText(path, text);
  // Only a failed command is a warning; a stopped or stuck appliance ends the conversion.
  const commandFailed = (e: unknown): Error => {
    if (e instanceof FerryError && e.code === "guestfs.call") return e;
    throw e;
  };

  // 1. VMware tools.
  // Package names come from the guest: only names its package manager would accept reach the shell.
  const packages = g.vmwareTools.filter((t) => PACKAGE_NAME.test(t));
  if (packages.length) {
    const cmd = g.packageFormat === "deb" ? `DEBIAN_FRONTEND=noninteractive dpkg --purge ${packages.join(" ")} 2>&1` : `rpm -e ${packages.join(" ")} 2>&1`;
    target.log(`removing VMware tools: ${packages.join(", ")}`);
    try {
      await app.call("sh", cmd);
      report.removedTools.push(...packages);
    } catch (e) {
      target.warn("convert.tools", `VMware tools could not be removed (${commandFailed(e).message}); they stay inactive on KVM`);
    }
  }
  if (g.vmwareTools.includes("/usr/bin/vmware-uninstall-tools.pl")) {
    try {
      await app.call("sh", "/usr/bin/vmware-uninstall-tools.pl 2>&1 </dev/null");
      report.removedTools.push("vmware-uninstall-tools.pl");
    } catch (e) {
      target.warn("convert.tools", `the VMware tools uninstaller failed (${commandFailed(e).message})`);
    }
  }

  // 2. Device names (before the initramfs: cryptroot and dracut copy /etc/crypttab into it): fstab, crypttab, grub's defaults and device map.
  const remapFile = async (path: string) => {
    const text = await read(path);
    if (text === null) return;
    const r = remapDevices(text, target.devices);
    if (!r.edits.length) return;
    await write(path, r.text);
    for (const e of r.edits) report.remapped.push({ file: path, ...e });
  };
  for (const f of ["/etc/fstab", "/etc/crypttab", "/etc/default/grub", "/boot/grub/device.map", "/boot/grub2/device.map"]) await remapFile(f);

  // 3. Network identity: each NIC keeps its name, pinned to its MAC (the initramfs carries the .link files).
  const links = await keepNetworkIdentity(app, target, report);

  // 4. LVM's devices file pins PVs by the disk's serial number, which changes on KVM: LVM would find no PV.
  for (const f of ["/etc/lvm/devices/system.devices", "/etc/lvm/cache/.cache"]) {
    if (await app.call<boolean>("is_file", f)) {
      await app.call("rm", f);
      report.lvmDevicesRemoved.push(f);
      target.log(`LVM: removed ${f} (it names the PVs by VMware's disk serials)`);
    }
  }

  // 5. Serial console on the kernel command line (before grub-mkconfig, which may run beside the rebuild).
  const defaults = await read("/etc/default/grub");
  if (defaults !== null) {
    const s = ensureSerialConsole(defaults);
    if (s.changed) await write("/etc/default/grub", s.text);
    report.serialConsole = true;
  }
  const grubConfig = g.bootloader.kind === "grub2" ? g.bootloader.config : null;
  const grubCmd = grubConfig ? `${g.packageFormat === "deb" ? "grub-mkconfig" : "grub2-mkconfig"} -o ${shellQuote(grubConfig)}` : null;
  let grubRun: SideBySideResult | null = null;

  // 6. virtio drivers in the initramfs: read it first, rebuild only when something needs it.
  const needed = VIRTIO_DRIVERS.filter((d) => kernel.virtio[d] === "module");
  let missing: string[];
  let compression: Compression | null = null;
  try {
    const listing = await readGuestInitramfs(app, kernel.initrd!);
    compression = (listing.segments.filter((x) => x !== "cpio").at(-1) as Compression | undefined) ?? null;
    missing = needed.filter((d) => !listing.modules.has(d));
    report.initramfs.present = needed.filter((d) => listing.modules.has(d));
    if (!missing.length) target.log(`${kernel.initrd} already carries ${needed.join(", ")} (${listing.segments.join(" + ")})`);
  } catch (e) {
    if (!(e instanceof FerryError) || !e.code.startsWith("initramfs.")) throw e;
    target.warn("convert.initramfs-unreadable", `${kernel.initrd} could not be read (${e.message}); it is rebuilt`);
    missing = [...needed];
  }
  const reasons = report.initramfs.reasons;
  if (missing.length) reasons.push(`it lacks ${missing.join(", ")}`);
  if (report.remapped.some((r) => r.file === "/etc/crypttab")) reasons.push("it holds the old /etc/crypttab");
  if (report.lvmDevicesRemoved.some((f) => f.endsWith("system.devices"))) reasons.push("it holds LVM's old devices file");
  if (reasons.length) {
    const cmd = rebuildCommand(tool, kernel, needed, compression);
    target.log(`${kernel.initrd}: ${reasons.join("; ")}: rebuilding it with ${tool} (${cmd})`);
    if (missing.length && tool === "update-initramfs") {
      const file = "/etc/initramfs-tools/modules";
      await write(file, addModuleLines((await read(file)) ?? "", missing));
    } else if (missing.length && tool === "dracut") {
      // Kept in the guest, so later kernel updates keep the drivers too.
      await app.call("mkdir_p", "/etc/dracut.conf.d");
      await write("/etc/dracut.conf.d/ferry-virtio.conf", `# added by Ferry for KVM\nadd_drivers+=" ${missing.join(" ")} "\n`);
    }
    // grub-mkconfig does not read the initramfs, only its name: it runs beside the rebuild, on the appliance's other vCPU.
    const [rebuild, grub] = await app.shAll(grubCmd ? [cmd, grubCmd] : [cmd]);
    grubRun = grub ?? null;
    if (rebuild!.code !== 0) {
      throw new FerryError({ code: "convert.initramfs", message: `${cmd} failed (exit ${rebuild!.code}): ${rebuild!.output.trim().split("\n").slice(-5).join(" | ").slice(0, 600)}`, file: kernel.initrd, hint: "check the guest's initramfs configuration (dracut.conf.d, /etc/initramfs-tools) and run Ferry again; nothing was written to the source" });
    }
    const listing = await readGuestInitramfs(app, kernel.initrd!);
    const still = needed.filter((d) => !listing.modules.has(d));
    if (still.length) {
      throw new FerryError({ code: "convert.initramfs", message: `the initramfs ${kernel.initrd} rebuilt by ${tool} still lacks ${still.join(", ")}`, file: null, hint: "check the guest's initramfs configuration (MODULES=, dracut omit_drivers) and run Ferry again" });
    }
    report.initramfs.rebuilt = true;
    report.initramfs.added = missing;
    // initramfs-tools copies /etc/systemd/network/*.link in; a dracut without its udev module may not.
    const carried = links.filter((l) => listing.files.some((f) => f.endsWith(`/${l.path.slice(l.path.lastIndexOf("/") + 1)}`)));
    await carryLinks(app, kernel.initrd!, links.filter((l) => !carried.includes(l)), report, target.log);
  } else if (links.length) {
    await carryLinks(app, kernel.initrd!, links, report, target.log);
  } else {
    target.log(`${kernel.initrd}: not rebuilt`);
  }

  // 7. Regenerate the grub config (unless it ran beside the rebuild); then remap
  // what it wrote, since grub-probe in the appliance sees the disks under their old names.
  if (grubCmd && grubConfig) {
    const run = grubRun ?? (await app.shAll([grubCmd]))[0]!;
    if (run.code === 0) report.grubRegenerated = true;
    else target.warn("convert.grub", `${grubCmd} failed (exit ${run.code}: ${run.output.trim().slice(-300)}); ${grubConfig} was edited in place instead`);
    if (report.grubRegenerated) {
      const root = targetRootDevice(g.root, target.targetDisks);
      const cfg = await read(grubConfig);
      if (root && cfg !== null) {
        const r = pinKernelRoot(cfg, root);
        if (r.edits.length) await write(grubConfig, r.text);
        for (const e of r.edits) report.remapped.push({ file: grubConfig, ...e });
      }
    } else await remapFile(grubConfig);
    const cfg = await read(grubConfig);
    if (cfg !== null && !report.grubRegenerated && !/console=ttyS0/.test(cfg)) {
      await write(grubConfig, cfg.replace(/^(\s*linux\S*\s+\S+.*)$/gm, (l) => `${l} console=tty0 console=ttyS0,115200n8`));
    }
  } else if (g.bootloader.kind === "grub-legacy" && g.bootloader.config) {
    await remapFile(g.bootloader.config);
  } else {
    target.warn("convert.bootloader", "no grub configuration was found; the kernel command line was not checked");
  }

  // 8. UEFI: a loader the firmware finds with fresh variables, and the guest's own entry.
  if (target.firmware === "uefi") report.uefi = await ensureUefiBoot(app, g, target.log);

  // 9. SELinux: label the files the conversion wrote at the next boot.
  if (g.selinux) {
    await app.call("touch", "/.autorelabel");
    report.selinuxRelabel = true;
  }
  return report;
}

/**
 * udev names NICs inside the initramfs already, so the .link files that keep
 * the names must be in it. Rather than rebuild a whole image (minutes under
 * emulation) for a few hundred bytes, Ferry adds them as a small early
 * archive; the guest's next rebuild takes them from /etc as usual.
 */
async function carryLinks(app: Appliance, initrd: string, links: LinkFile[], report: LinuxConversionReport, log: (m: string) => void): Promise<void> {
  if (!links.length) return;
  const dir = mkdtempSync(join(tmpdir(), "ferry-initrd-"));
  try {
    const local = join(dir, "initrd");
    await app.call("download", initrd, local);
    const dirs = ["etc", "etc/systemd", "etc/systemd/network"].map((path) => ({ path, mode: 0o040755 }));
    const files = links.map((l) => ({ path: l.path.slice(1), mode: 0o100644, data: Buffer.from(l.text, "latin1") }));
    writeFileSync(local, insertEarlyArchive(readFileSync(local), cpioArchive([...dirs, ...files]), initrd));
    await app.call("upload", local, initrd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const listing = await readGuestInitramfs(app, initrd);
  const lost = links.filter((l) => !listing.files.includes(l.path.slice(1)));
  if (lost.length) throw new FerryError({ code: "convert.initramfs", message: `${initrd} does not list ${lost.map((l) => l.path).join(", ")} after Ferry added them`, file: null, hint: "the initramfs may be in a format Ferry cannot extend; report it" });
  report.initramfs.appended.push(...links.map((l) => l.path));
  log(`${initrd}: added ${links.map((l) => l.path).join(", ")} as an early archive (the NICs are named inside the initramfs already)`);
}

/** The root partition's name on the target: libguestfs' /dev/sdb2 is the second disk's partition 2. */
export function targetRootDevice(root: string, targetDisks: string[]): string | null {
  const m = /^\/dev\/sd([a-z]+)(\d*)$/.exec(root);
  if (!m) return null; // LVM, md, by-uuid: names that do not change
  let index = 0;
  for (const c of m[1]!) index = index * 26 + (c.charCodeAt(0) - 96);
  const disk = targetDisks[index - 1];
  return disk ? `/dev/${disk}${m[2]}` : null;
}
