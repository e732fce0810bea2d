import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { FerryError } from "../errors";
import type { Appliance } from "./appliance";
import type { ConvertTarget, Converter } from "./converter";
import type { GuestInspection, WindowsConversionReport } from "./guest";
import { readKeys, setValues } from "./regedit";
import { showValue, valueOf, type RegSet, type RegValue } from "./registry";
import { pickVirtioWin, type VirtioWinPick } from "./virtio-win";
import { openVirtioWin, type VirtioWinSource } from "./virtio-win-source";
import { refuseOldWindows, VMWARE_SERVICES, type WindowsFacts } from "./windows-facts";
import { FIRSTBOOT_DIR, FIRSTBOOT_SERVICE, firstbootScript, msiRemoval, networkScript, pairStaticInterfaces, VIRTIO_DIR } from "./windows-firstboot";

/**
 * Windows conversion, the way virt-v2v does it: offline, only what Windows
 * needs to boot on the new disk controller, the rest at first boot.
 * With virtio-win: viostor goes into System32\drivers as a boot-start
 * service, with the device database entries that bind it to virtio-blk's
 * PCI ids (CriticalDeviceDatabase before Windows 8, DriverDatabase from 8
 * on); the other drivers are staged for pnputil. Without: the guest gets
 * SATA, and Windows' own AHCI driver is made to start at boot. Either way
 * VMware's services are disabled, automatic restart after a crash is
 * turned off (so a blue screen stays on screen for the boot check), and a
 * first-boot service removes VMware Tools and restores static IPv4
 * settings. Every registry change is in the report, with the old value.
 */

const SCSI_CLASS = "{4D36E97B-E325-11CE-BFC1-08002BE10318}";
/** virtio-blk's PCI ids, legacy and modern (virtio 1.0), as Windows names them. */
const BLOCK_PCI_IDS: Record<string, string[]> = {
  viostor: ["VEN_1AF4&DEV_1001&REV_00", "VEN_1AF4&DEV_1042&REV_01"],
  vioscsi: ["VEN_1AF4&DEV_1004&REV_00", "VEN_1AF4&DEV_1048&REV_01"],
};
/** The made-up driver package name the DriverDatabase entries use, so the real package pnputil installs later does not collide. */
const DDB_INF = "ferry-virtio-storage.inf";

interface Edit extends RegSet {
  hive: "SYSTEM" | "SOFTWARE";
  why: string;
}

const dword = (value: number): RegValue => ({ type: "dword", value });
const sz = (value: string): RegValue => ({ type: "sz", value });

/** Refuse, before anything is written, a Windows guest this plan cannot boot. */
export function refuseWindows(g: GuestInspection, target: Partial<Pick<ConvertTarget, "diskBus" | "virtioWin">>, pick: VirtioWinPick | null): void {
  refuseOldWindows(g.product, g.majorVersion, g.minorVersion);
  if (!g.windows) throw new FerryError({ code: "convert.windows-registry", message: `${g.product}: the SYSTEM or SOFTWARE hive was not found or not read`, file: null, hint: "check the guest's Windows\\System32\\config folder on VMware" });
  if (g.arch !== "x86_64" && g.arch !== "i386") throw new FerryError({ code: "convert.windows-arch", message: `${g.product} is ${g.arch}; Ferry converts x86 Windows`, file: null, hint: "use --copy-only" });
  if (target.diskBus === "virtio" && (!pick || !pick.block)) {
    throw new FerryError({
      code: "convert.virtio-win-version",
      message: `${target.virtioWin ?? "virtio-win"} has no viostor or vioscsi for ${g.product} (${g.windows.osinfo}, ${g.arch}), but the plan gives the guest virtio disks`,
      file: target.virtioWin ?? null,
      hint: "use a virtio-win release that supports this Windows, or run without --virtio-win (the guest then gets SATA and e1000e); check that the VMX's guestOS matches the installed Windows",
    });
  }
}

export const windowsConverter: Converter = {
  osTypes: ["windows"],
  check(g, target) {
    // What needs no listing of virtio-win; convert() checks the drivers before it writes anything.
    refuseWindows(g, { ...target, diskBus: undefined }, null);
  },
  convert: convertWindows,
};

/** The registry edits that bind a block driver at boot (virt-v2v's, with its reasons). */
export function bootDriverEdits(w: WindowsFacts, driver: string, arch: string): Edit[] {
  const cs = w.controlSet;
  const svc = [cs, "Services", driver];
  const why = `${driver} starts at boot, so Windows finds its system disk on virtio`;
  const edits: Edit[] = [
    { hive: "SYSTEM", key: svc, name: "Type", value: dword(1), why },
    { hive: "SYSTEM", key: svc, name: "Start", value: dword(0), why },
    { hive: "SYSTEM", key: svc, name: "Group", value: sz("SCSI miniport"), why },
    { hive: "SYSTEM", key: svc, name: "ErrorControl", value: dword(1), why },
    { hive: "SYSTEM", key: svc, name: "ImagePath", value: { type: "expand_sz", value: `system32\\drivers\\${driver}.sys` }, why },
  ];
  for (const pciId of BLOCK_PCI_IDS[driver] ?? []) {
    if (!w.driverDatabase) {
      const why2 = `Windows before 8 binds a boot device to its driver through CriticalDeviceDatabase (PCI ${pciId})`;
      const key = [cs, "Control", "CriticalDeviceDatabase", `PCI#${pciId}`];
      edits.push({ hive: "SYSTEM", key, name: "Service", value: sz(driver), why: why2 }, { hive: "SYSTEM", key, name: "ClassGUID", value: sz(SCSI_CLASS), why: why2 });
      continue;
    }
    const winArch = arch === "i386" ? "x86" : "amd64";
    const label = `${DDB_INF}_${winArch}_0000000000000000`;
    const conf = "ferry_conf";
    const why2 = `Windows 8 and later bind a boot device to its driver through DriverDatabase (PCI ${pciId})`;
    edits.push(
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverInfFiles", DDB_INF], name: "", value: { type: "multi_sz", value: [label] }, why: why2 },
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverInfFiles", DDB_INF], name: "Active", value: sz(label), why: why2 },
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverInfFiles", DDB_INF], name: "Configurations", value: { type: "multi_sz", value: [conf] }, why: why2 },
      { hive: "SYSTEM", key: ["DriverDatabase", "DeviceIds", "PCI", pciId], name: DDB_INF, value: { type: "binary", value: "01ff0000" }, why: why2 },
      // Version: the SCSI adapter class GUID inside; Windows 10's kernel PnP wants it.
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverPackages", label], name: "Version", value: { type: "binary", value: "00ff090000000000" + "7be9364d25e3ce11bfc108002be10318" + "00".repeat(24) }, why: why2 },
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverPackages", label, "Configurations", conf], name: "ConfigFlags", value: dword(0), why: why2 },
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverPackages", label, "Configurations", conf], name: "Service", value: sz(driver), why: why2 },
      { hive: "SYSTEM", key: ["DriverDatabase", "DriverPackages", label, "Descriptors", "PCI", pciId], name: "Configuration", value: sz(conf), why: why2 },
    );
  }
  return edits;
}

/** storahci at boot: Start 0 and every StartOverride 0 (Windows 8+ keeps a driver off with StartOverride). */
export function ahciEdits(w: WindowsFacts): Edit[] {
  const why = "the guest boots from SATA (AHCI): Windows' own storahci must start at boot; a guest installed on LSI or PVSCSI has it off, and would stop with INACCESSIBLE_BOOT_DEVICE";
  const svc = [w.controlSet, "Services", "storahci"];
  const edits: Edit[] = [{ hive: "SYSTEM", key: svc, name: "Start", value: dword(0), why }];
  for (const name of Object.keys(w.ahci.overrides)) edits.push({ hive: "SYSTEM", key: [...svc, "StartOverride"], name, value: dword(0), why });
  return edits;
}

/** VMware's services off (Start 4), and VMware filter drivers out of class filter lists (a disabled filter would stop its whole device class). */
export function vmwareEdits(w: WindowsFacts): Edit[] {
  const edits: Edit[] = w.vmwareServices
    .filter((s) => s.start !== 4)
    .map((s) => ({ hive: "SYSTEM" as const, key: [w.controlSet, "Services", s.name], name: "Start", value: dword(4), why: `VMware's ${s.name} fails or hangs without VMware's virtual hardware` }));
  const vmware = new Set(VMWARE_SERVICES.map((s) => s.toLowerCase()));
  for (const f of w.vmwareFilters) {
    const kept = f.list.filter((x) => !vmware.has(x.toLowerCase()));
    edits.push({ hive: "SYSTEM", key: [w.controlSet, "Control", "Class", f.classGuid], name: f.value, value: { type: "multi_sz", value: kept }, why: `${f.list.filter((x) => vmware.has(x.toLowerCase())).join(", ")} is disabled: left in ${f.value}, it would stop every device of the class (mouse, keyboard, disk)` });
  }
  return edits;
}

export function firstbootServiceEdits(w: WindowsFacts): Edit[] {
  const key = [w.controlSet, "Services", FIRSTBOOT_SERVICE];
  const why = "runs Ferry's first-boot script once, as SYSTEM, then deletes itself";
  return [
    { hive: "SYSTEM", key, name: "Type", value: dword(0x10), why },
    { hive: "SYSTEM", key, name: "Start", value: dword(2), why },
    { hive: "SYSTEM", key, name: "ErrorControl", value: dword(0), why },
    { hive: "SYSTEM", key, name: "ObjectName", value: sz("LocalSystem"), why },
    { hive: "SYSTEM", key, name: "DisplayName", value: sz("Ferry first boot on KVM"), why },
    // cmd.exe is not a service program: `start` runs the script detached, so it outlives the service manager's start timeout.
    { hive: "SYSTEM", key, name: "ImagePath", value: { type: "expand_sz", value: `%SystemRoot%\\System32\\cmd.exe /c start "" /b "%SystemRoot%\\${FIRSTBOOT_DIR}\\firstboot.cmd"` }, why },
  ];
}

function keyText(e: Pick<Edit, "hive" | "key">): string {
  return `HKLM\\${e.hive}${e.key.length ? `\\${e.key.join("\\")}` : ""}`;
}

async function guestPath(app: Appliance, path: string): Promise<string> {
  // NTFS names are case-insensitive; libguestfs' paths are not.
  return (await app.tryCall<string>("case_sensitive_path", path)) ?? path;
}

export async function convertWindows(app: Appliance, g: GuestInspection, target: ConvertTarget): Promise<WindowsConversionReport> {
  const source = target.diskBus === "virtio" && target.virtioWin ? await openVirtioWin(target.virtioWin) : null;
  try {
    return await convertWith(app, g, target, source);
  } finally {
    await source?.close();
  }
}

async function convertWith(app: Appliance, g: GuestInspection, target: ConvertTarget, source: VirtioWinSource | null): Promise<WindowsConversionReport> {
  const pick = source && g.windows ? pickVirtioWin(target.virtioWin!, source.files, g.windows.osinfo, g.arch) : null;
  refuseWindows(g, target, pick);
  const w = g.windows!;
  const sysroot = await guestPath(app, w.systemRoot);
  const report: WindowsConversionReport = {
    family: "windows",
    product: g.product,
    version: `${g.majorVersion}.${g.minorVersion}`,
    devices: pick ? "virtio" : "emulated",
    virtioWin: pick ? target.virtioWin : null,
    blockDriver: pick?.block?.name ?? null,
    files: [],
    stagedDrivers: [],
    registry: [],
    firstboot: { service: FIRSTBOOT_SERVICE, files: [] },
    vmwareDisabled: [],
    staticIps: [],
    unpairedStaticIps: [],
    ahciFix: false,
  };
  const edits: Edit[] = [];

  // 1. Drivers: the boot driver into System32\drivers, every driver's files staged for pnputil.
  if (pick && source) {
    const dir = posix.join(sysroot, ...VIRTIO_DIR.split("\\"));
    await app.call("mkdir_p", dir);
    for (const d of [pick.block!, ...pick.staged]) {
      for (const f of d.files) {
        const to = posix.join(dir, posix.basename(f).toLowerCase());
        await app.call("upload", await source.local(f), to);
        report.files.push(to);
      }
      if (d !== pick.block) report.stagedDrivers.push(d.name);
    }
    const sys = pick.block!.files.find((f) => f.toLowerCase().endsWith(".sys"))!;
    const to = posix.join(await guestPath(app, posix.join(sysroot, "System32", "drivers")), `${pick.block!.name}.sys`);
    await app.call("upload", await source.local(sys), to);
    report.files.push(to);
    target.log(`${pick.block!.name} from ${target.virtioWin} (${w.osinfo}, ${g.arch}) installed as a boot driver; staged for first boot: ${report.stagedDrivers.join(", ") || "nothing"}`);
    edits.push(...bootDriverEdits(w, pick.block!.name, g.arch));
  } else {
    edits.push(...ahciEdits(w));
    report.ahciFix = true;
    target.log("no virtio-win drivers: the guest gets SATA and e1000e; storahci set to start at boot");
  }

  // 2. VMware's services and filters, crash restart, the first-boot service.
  const vm = vmwareEdits(w);
  edits.push(...vm);
  report.vmwareDisabled = w.vmwareServices.filter((s) => s.start !== 4).map((s) => s.name);
  edits.push({ hive: "SYSTEM", key: [w.controlSet, "Control", "CrashControl"], name: "AutoReboot", value: dword(0), why: "a blue screen stays on screen instead of a restart loop, so the boot check (and an admin) can read the stop code" });
  edits.push(...firstbootServiceEdits(w));

  // 3. The first-boot script and what it runs.
  const fbDir = posix.join(sysroot, FIRSTBOOT_DIR);
  await app.call("mkdir_p", fbDir);
  const removals = w.vmwareTools.map((t) => ({ t, cmd: msiRemoval(t.uninstall) }));
  for (const r of removals.filter((x) => !x.cmd)) target.warn("convert.windows-tools", `${r.t.name}: its uninstall command (${r.t.uninstall}) is not an MSI removal Ferry runs unattended; uninstall it by hand after the first boot`);
  const paired = pairStaticInterfaces(target.nics, w.staticInterfaces);
  report.staticIps = paired.assigned.map((a) => ({ nic: a.nic, mac: a.mac, addresses: a.settings.addresses, gateways: a.settings.gateways, dns: a.settings.dns }));
  report.unpairedStaticIps = paired.unpaired.map((s) => `${s.adapter ?? s.guid}: ${s.addresses.join(", ")}`);
  for (const u of report.unpairedStaticIps) target.warn("convert.windows-static-ip", `static IPv4 settings that could not be paired with one NIC by its MAC (${u}): set them on KVM by hand`);
  const net = networkScript(paired.assigned);
  let guestAgent: string | null = null;
  if (pick?.guestAgent && source) {
    guestAgent = posix.basename(pick.guestAgent).toLowerCase();
    const to = posix.join(fbDir, guestAgent);
    await app.call("upload", await source.local(pick.guestAgent), to);
    report.files.push(to);
  }
  const script = firstbootScript({ modernPnputil: g.majorVersion >= 10, stagedDrivers: !!pick, toolsRemovals: removals.map((r) => r.cmd).filter((c): c is string => !!c), network: net !== null, guestAgent });
  const written: Array<{ path: string; text: string }> = [{ path: posix.join(fbDir, "firstboot.cmd"), text: script }];
  if (net) written.push({ path: posix.join(fbDir, "network.ps1"), text: net });
  for (const f of written) {
    await app.writeText(f.path, f.text);
    report.firstboot.files.push(f);
  }

  // 4. SOFTWARE: pnputil's search path also finds the staged drivers.
  const hives = { SYSTEM: w.systemHive, SOFTWARE: w.softwareHive };
  const work = mkdtempSync(join(tmpdir(), "ferry-hives-"));
  try {
    const local = { SYSTEM: join(work, "SYSTEM"), SOFTWARE: join(work, "SOFTWARE") };
    await app.call("download", hives.SYSTEM, local.SYSTEM);
    await app.call("download", hives.SOFTWARE, local.SOFTWARE);
    if (pick) {
      const cvKey = ["Microsoft", "Windows", "CurrentVersion"];
      const current = valueOf(readKeys(local.SOFTWARE, [cvKey])[0] ?? null, "DevicePath");
      const add = `%SystemRoot%\\${VIRTIO_DIR}`;
      if (current && (current.type === "sz" || current.type === "expand_sz") && !current.value.toLowerCase().includes(add.toLowerCase())) {
        edits.push({ hive: "SOFTWARE", key: cvKey, name: "DevicePath", value: { type: "expand_sz", value: `${current.value};${add}` }, why: "Windows' driver search path also covers the staged virtio drivers" });
      }
    }
    for (const hive of ["SYSTEM", "SOFTWARE"] as const) {
      const mine = edits.filter((e) => e.hive === hive);
      if (!mine.length) continue;
      const keys = [...new Map(mine.map((e) => [e.key.join("\\").toLowerCase(), e.key])).values()];
      const before = readKeys(local[hive], keys);
      const prev = (e: Edit) => valueOf(before[keys.findIndex((k) => k.join("\\").toLowerCase() === e.key.join("\\").toLowerCase())] ?? null, e.name);
      for (const e of mine) report.registry.push({ hive, key: keyText(e), name: e.name || "(Default)", value: showValue(e.value), previous: showValue(prev(e)), why: e.why });
      setValues(local[hive], mine);
      await app.call("upload", local[hive], hives[hive]);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  target.log(`registry: ${report.registry.length} values set (${report.registry.filter((r) => r.hive === "SYSTEM").length} in SYSTEM, ${report.registry.filter((r) => r.hive === "SOFTWARE").length} in SOFTWARE)`);
  return report;
}
