import { FerryError } from "../errors";
import { shellQuote } from "../output/qemu-script";
import type { Appliance } from "./appliance";
import { describeOs, VIRTIO_DRIVERS, type ConversionReport, type GuestInspection, type GuestKernel } from "./guest";
import { readGuestInitramfs } from "./inspect";
import { addModuleLines, pinKernelRoot, dropHwaddr, ensureSerialConsole, ifupdownInterfaces, interfaceRenames, netplanInterfaces, remapDevices, renameInterfaces } from "./remap";

/**
 * Linux conversion, as virt-v2v does it but checking before changing:
 * VMware tools go, the kernel's initramfs gets virtio drivers only when
 * they are missing, device and interface names follow the new hardware,
 * the kernel also speaks on the serial console, SELinux relabels.
 */

export interface LinuxTarget {
  /** Source device name (sda) → target (vda). */
  devices: Map<string, string>;
  /** The target's interface names, NIC by NIC (enp1s0, ...). */
  nicNames: string[];
  /** The target's disk names in the order the disks were given to the appliance (vda, vdb...). */
  targetDisks: string[];
  log: (message: string) => void;
  warn: (code: string, message: string) => void;
}

/** Refuse before anything is copied: each message says why and what to do. */
export function refuseUnconvertible(g: GuestInspection): GuestKernel {
  if (g.type === "windows") {
    throw new FerryError({ code: "convert.windows", message: `${g.product || "this Windows guest"}: Windows guests are not converted yet (virtio drivers for Windows need virtio-win)`, file: null, hint: "use --copy-only (in the wizard: untick “Convert for KVM”): the guest then gets SATA disks and an e1000e NIC, which Windows drives without virtio" });
  }
  if (g.type !== "linux") {
    throw new FerryError({ code: "convert.unsupported-os", message: `the guest's operating system (${g.type}${g.distro !== "unknown" ? `, ${g.distro}` : ""}) is not one Ferry converts`, file: null, hint: "Ferry converts Linux guests; use --copy-only (in the wizard: untick “Convert for KVM”) to copy the disks as they are" });
  }
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
  return usable;
}

/** What dpkg and rpm accept as a package name; anything else from a guest never reaches a shell. */
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;

const rebuildCommand = (g: GuestInspection, k: GuestKernel) =>
  g.packageFormat === "deb" ? `update-initramfs -u -k ${shellQuote(k.version)}` : `dracut -f ${shellQuote(k.initrd!)} ${shellQuote(k.version)}`;

export async function convertLinux(app: Appliance, g: GuestInspection, target: LinuxTarget): Promise<ConversionReport> {
  const kernel = refuseUnconvertible(g);
  const report: ConversionReport = {
    kernel: kernel.version,
    removedTools: [],
    initramfs: { file: kernel.initrd!, rebuilt: false, added: [], present: [] },
    remapped: [],
    network: [],
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

  // 3. virtio drivers in the initramfs: read it first, rebuild only when something is missing.
  const needed = VIRTIO_DRIVERS.filter((d) => kernel.virtio[d] === "module");
  let missing: string[];
  try {
    const listing = await readGuestInitramfs(app, kernel.initrd!);
    missing = needed.filter((d) => !listing.modules.has(d));
    report.initramfs.present = needed.filter((d) => listing.modules.has(d));
    if (!missing.length) target.log(`${kernel.initrd} already carries ${needed.join(", ")} (${listing.segments.join(" + ")})`);
  } catch (e) {
    if (!(e instanceof FerryError) || !e.code.startsWith("initramfs.")) throw e;
    target.warn("convert.initramfs-unreadable", `${kernel.initrd} could not be read (${e.message}); it is rebuilt`);
    missing = [...needed];
  }
  const cryptChanged = report.remapped.some((r) => r.file === "/etc/crypttab");
  if (missing.length === 0 && !cryptChanged) {
    target.log(`${kernel.initrd}: not rebuilt`);
  } else {
    target.log(`${kernel.initrd}${missing.length ? ` lacks ${missing.join(", ")}` : " holds the old /etc/crypttab"}: rebuilding it (${rebuildCommand(g, kernel)})`);
    if (missing.length && g.packageFormat === "deb") {
      const file = "/etc/initramfs-tools/modules";
      await write(file, addModuleLines((await read(file)) ?? "", missing));
    } else if (missing.length) {
      await app.call("mkdir_p", "/etc/dracut.conf.d");
      await write("/etc/dracut.conf.d/ferry-virtio.conf", `# added by Ferry for KVM\nadd_drivers+=" ${missing.join(" ")} "\n`);
    }
    await app.call("sh", `${rebuildCommand(g, kernel)} 2>&1`);
    const listing = await readGuestInitramfs(app, kernel.initrd!);
    const still = needed.filter((d) => !listing.modules.has(d));
    if (still.length) {
      throw new FerryError({ code: "convert.initramfs", message: `the rebuilt initramfs ${kernel.initrd} still lacks ${still.join(", ")}`, file: null, hint: "check the guest's initramfs configuration (MODULES=, dracut omit_drivers) and run Ferry again" });
    }
    report.initramfs.rebuilt = true;
    report.initramfs.added = missing;
  }

  // 4. Serial console on the kernel command line.
  const defaults = await read("/etc/default/grub");
  if (defaults !== null) {
    const s = ensureSerialConsole(defaults);
    if (s.changed) await write("/etc/default/grub", s.text);
    report.serialConsole = true;
  }

  // 5. Regenerate the grub config; then remap what it wrote, since grub-probe
  // in the appliance sees the disks under their old names.
  if (g.bootloader.kind === "grub2" && g.bootloader.config) {
    const cmd = `${g.packageFormat === "deb" ? "grub-mkconfig" : "grub2-mkconfig"} -o ${shellQuote(g.bootloader.config)}`;
    try {
      await app.call("sh", `${cmd} 2>&1`);
      report.grubRegenerated = true;
    } catch (e) {
      target.warn("convert.grub", `${cmd} failed (${commandFailed(e).message.slice(0, 300)}); ${g.bootloader.config} was edited in place instead`);
    }
    if (report.grubRegenerated) {
      const root = targetRootDevice(g.root, target.targetDisks);
      const cfg = await read(g.bootloader.config);
      if (root && cfg !== null) {
        const r = pinKernelRoot(cfg, root);
        if (r.edits.length) await write(g.bootloader.config, r.text);
        for (const e of r.edits) report.remapped.push({ file: g.bootloader.config, ...e });
      }
    } else await remapFile(g.bootloader.config);
    const cfg = await read(g.bootloader.config);
    if (cfg !== null && !report.grubRegenerated && !/console=ttyS0/.test(cfg)) {
      await write(g.bootloader.config, cfg.replace(/^(\s*linux\S*\s+\S+.*)$/gm, (l) => `${l} console=tty0 console=ttyS0,115200n8`));
    }
  } else if (g.bootloader.kind === "grub-legacy" && g.bootloader.config) {
    await remapFile(g.bootloader.config);
  } else {
    target.warn("convert.bootloader", "no grub configuration was found; the kernel command line was not checked");
  }

  // 6. Network: the first configured interfaces get the target's names.
  await renameNetwork(app, target, report);

  // 7. SELinux: label the files the conversion wrote at the next boot.
  if (g.selinux) {
    await app.call("touch", "/.autorelabel");
    report.selinuxRelabel = true;
  }
  return report;
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

async function renameNetwork(app: Appliance, target: LinuxTarget, report: ConversionReport): Promise<void> {
  if (!target.nicNames.length) return;
  const read = (path: string) => app.readText(path);
  // With net.ifnames=0 the kernel keeps eth0, eth1...: the names do not change on KVM.
  const cmdline = [(await read("/etc/default/grub")) ?? "", (await read("/etc/kernel/cmdline")) ?? ""].join("\n");
  if (/(^|[\s"'])net\.ifnames=0(?=[\s"']|$)/m.test(cmdline)) {
    target.log("network: the guest uses kernel names (net.ifnames=0); nothing to rename");
    return;
  }
  const files: Array<{ path: string; text: string; names: string[] }> = [];
  const list = async (dir: string) => ((await app.call<boolean>("is_dir", dir)) ? ((await app.tryCall<string[]>("ls", dir)) ?? []).map((f) => `${dir}/${f}`) : []);
  for (const path of ["/etc/network/interfaces", ...(await list("/etc/network/interfaces.d"))]) {
    const text = await read(path);
    if (text !== null) files.push({ path, text, names: ifupdownInterfaces(text) });
  }
  for (const path of (await list("/etc/netplan")).filter((p) => /\.ya?ml$/.test(p))) {
    const text = await read(path);
    if (text !== null) files.push({ path, text, names: netplanInterfaces(text) });
  }
  for (const path of (await list("/etc/sysconfig/network-scripts")).filter((p) => /\/ifcfg-(?!lo$)/.test(p))) {
    const text = await read(path);
    if (text !== null) files.push({ path, text, names: [path.replace(/^.*ifcfg-/, "")] });
  }
  for (const path of await list("/etc/NetworkManager/system-connections")) {
    const text = await read(path);
    const m = text && /^interface-name=(.+)$/m.exec(text);
    if (text !== null && m) files.push({ path, text, names: [m[1]!.trim()] });
  }
  const configured: string[] = [];
  for (const f of files) for (const n of f.names) if (!configured.includes(n)) configured.push(n);
  const renames = interfaceRenames(configured, target.nicNames);
  if (!configured.length) {
    target.log("no static network configuration names an interface; nothing to rename");
    return;
  }
  for (const f of files) {
    const r = renameInterfaces(f.path.includes("ifcfg-") ? dropHwaddr(f.text) : f.text, renames);
    if (!r.edits.length && r.text === f.text) continue;
    await app.writeText(f.path, r.text);
    let path = f.path;
    if (f.path.includes("/ifcfg-")) {
      const to = renames.get(f.names[0]!);
      if (to) {
        path = f.path.replace(/ifcfg-.*$/, `ifcfg-${to}`);
        await app.call("mv", f.path, path);
      }
    }
    for (const e of r.edits) report.network.push({ file: path, ...e });
  }
  for (const [from, to] of renames) target.log(`network: ${from} → ${to}`);
}
