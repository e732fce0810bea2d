import { z } from "zod";
import { FerryError } from "../errors";
import { valueOf, type RegKey, type RegValue } from "./registry";

/**
 * What Windows inspection learns from the SYSTEM and SOFTWARE hives and the
 * guest's volumes, and the refusals that follow from it. Pure: registry keys
 * (as regedit.readKeys gives them) and libguestfs answers in, facts out.
 */

export const StaticInterface = z.object({
  /** The TCP/IP interface's GUID (Tcpip\Parameters\Interfaces\{...}). */
  guid: z.string(),
  /** The network adapter's description on VMware (`vmxnet3 Ethernet Adapter`), when the class key names it. */
  adapter: z.string().nullable(),
  /** `192.168.50.20/24`. */
  addresses: z.array(z.string()),
  gateways: z.array(z.string()),
  dns: z.array(z.string()),
});
export type StaticInterface = z.infer<typeof StaticInterface>;

export const WindowsFacts = z.object({
  systemRoot: z.string(),
  controlSet: z.string(),
  systemHive: z.string(),
  softwareHive: z.string(),
  /** Client or Server (libguestfs' product variant, from InstallationType). */
  variant: z.string(),
  /** libosinfo's short id (win10, win2k19): what picks the virtio-win folder. */
  osinfo: z.string(),
  edition: z.string().nullable(),
  build: z.string().nullable(),
  /** The partition Windows boots from (the active MBR partition, or the EFI system partition). */
  bootPartition: z.string().nullable(),
  /** SYSTEM\DriverDatabase exists: Windows 8 and later, where a boot driver is registered there rather than in CriticalDeviceDatabase. */
  driverDatabase: z.boolean(),
  /** Windows' AHCI driver: its Start and StartOverride values (3 or 4: it does not start at boot). */
  ahci: z.object({ start: z.number().nullable(), overrides: z.record(z.string(), z.number()) }),
  /** VMware's drivers and services present in the control set, with their Start values. */
  vmwareServices: z.array(z.object({ name: z.string(), start: z.number().nullable() })),
  /** Device class filter lists that name a VMware driver (`Control\Class\{GUID}` UpperFilters/LowerFilters). */
  vmwareFilters: z.array(z.object({ classGuid: z.string(), value: z.enum(["UpperFilters", "LowerFilters"]), list: z.array(z.string()) })),
  /** Uninstall entries of VMware Tools: DisplayName and UninstallString. */
  vmwareTools: z.array(z.object({ name: z.string(), uninstall: z.string() })),
  staticInterfaces: z.array(StaticInterface),
});
export type WindowsFacts = z.infer<typeof WindowsFacts>;

/**
 * VMware's Windows services and drivers that start whatever the hardware
 * and talk to VMware's backdoor or its paravirtual devices: on KVM they fail
 * at every boot or hang. (Plug-and-play drivers of VMware devices, vmxnet3
 * and pvscsi, load only with their device and are left alone, so the guest
 * still boots if it goes back to VMware.)
 */
export const VMWARE_SERVICES = ["VMTools", "VGAuthService", "vm3dservice", "vmvss", "VMUSBArbService", "vmci", "vmhgfs", "VMMemCtl", "vmmouse", "vmusbmouse", "vmrawdsk", "vsock", "vnetWFP"];

export const NET_CLASS = "{4d36e972-e325-11ce-bfc1-08002be10318}";

const str = (v: RegValue | null): string | null => (v && (v.type === "sz" || v.type === "expand_sz") ? v.value : null);
const list = (v: RegValue | null): string[] => (v?.type === "multi_sz" ? v.value : v && (v.type === "sz" || v.type === "expand_sz") ? v.value.split(/[ ,]+/).filter(Boolean) : []);
const num = (v: RegValue | null): number | null => (v?.type === "dword" ? v.value : null);

/** `255.255.255.0` → 24; null for a mask that is not contiguous. */
export function prefixLength(mask: string): number | null {
  const parts = mask.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  const bits = parts.map((p) => p.toString(2).padStart(8, "0")).join("");
  return /^1*0*$/.test(bits) ? bits.indexOf("0") === -1 ? 32 : bits.indexOf("0") : null;
}

/** The static IPv4 settings of one Tcpip interface key; null when it uses DHCP or has no address. */
export function staticInterface(guid: string, key: RegKey | null, adapter: string | null): StaticInterface | null {
  if (!key || num(valueOf(key, "EnableDHCP")) !== 0) return null;
  const ips = list(valueOf(key, "IPAddress")).filter((a) => a !== "0.0.0.0");
  const masks = list(valueOf(key, "SubnetMask"));
  if (!ips.length) return null;
  return {
    guid,
    adapter,
    addresses: ips.map((ip, i) => `${ip}/${prefixLength(masks[i] ?? "") ?? 24}`),
    gateways: list(valueOf(key, "DefaultGateway")).filter((g) => g !== "0.0.0.0"),
    dns: list(valueOf(key, "NameServer")),
  };
}

/** Uninstall entries whose DisplayName says VMware Tools; an MSI's /I (install, repair) becomes /X (remove). */
export function vmwareToolsEntries(entries: Array<{ key: RegKey | null }>): WindowsFacts["vmwareTools"] {
  const out: WindowsFacts["vmwareTools"] = [];
  for (const { key } of entries) {
    const name = str(valueOf(key, "DisplayName"));
    const cmd = str(valueOf(key, "UninstallString"));
    if (!name || !cmd || !/VMware Tools/i.test(name)) continue;
    out.push({ name, uninstall: /msiexec/i.test(cmd) ? cmd.replace(/\/I(?=\s*\{|\s)/i, "/X") : cmd });
  }
  return out;
}

export { num as dwordOf, str as stringOf, list as listOf };

/** ntfs-3g.probe's answers (ntfs_volume_status) that stop a read-write mount. */
export function judgeNtfsProbe(device: string, code: number): { id: string; message: string; hint: string } | null {
  if (code === 0) return null;
  if (code === 14) return { id: "convert.windows-hibernated", message: `${device}: Windows is hibernated (or was shut down with Fast Startup): hiberfil.sys holds the running system, and changing the disk would lose it or corrupt it`, hint: "start the guest on VMware, then shut it down fully (shutdown /s /f /t 0, or turn Fast Startup off: powercfg /h off), then run Ferry again" };
  if (code === 15) return { id: "convert.windows-unclean", message: `${device}: the NTFS volume was not cleanly unmounted (the guest crashed or was powered off)`, hint: "start the guest on VMware and shut it down from Windows (or run chkdsk /f there), then run Ferry again" };
  if (code === 12 || code === 13) return { id: "convert.ntfs-damaged", message: `${device}: the NTFS volume is damaged (ntfs-3g.probe exit ${code})`, hint: "run chkdsk /f inside the guest on VMware, then run Ferry again" };
  return { id: "convert.ntfs-unmountable", message: `${device}: the NTFS volume cannot be opened for writing (ntfs-3g.probe exit ${code})`, hint: "check the volume inside the guest on VMware (chkdsk), then run Ferry again" };
}

/** A volume libguestfs sees, for the refusals below. */
export interface VolumeFacts {
  device: string;
  /** vfs_type: ntfs, BitLocker, ... */
  fsType: string;
  /** MBR partition type (0x42: a dynamic disk's LDM partition) or the GPT type GUID. */
  mbrId: number | null;
  gptType: string | null;
  /** ntfs-3g.probe --readwrite's exit code, for NTFS volumes. */
  ntfsProbe: number | null;
}

const LDM_GPT_TYPES = ["5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", "AF9B60A0-1431-4F62-BC68-3311714A69AD"];

/** The first volume that makes the guest unconvertible, as a FerryError: BitLocker, a dynamic disk, hibernation. */
export function refuseVolumes(volumes: VolumeFacts[]): void {
  const locked = volumes.find((v) => v.fsType === "BitLocker");
  if (locked) {
    throw new FerryError({ code: "convert.bitlocker", message: `${locked.device} is encrypted with BitLocker: Ferry cannot read or change what is inside, and on KVM Windows would ask for the recovery key (the TPM that held the key stays on VMware)`, file: null, hint: "decrypt the volume inside the guest on VMware (manage-bde -off C:, wait until it says Fully Decrypted), then run Ferry again" });
  }
  const ldm = volumes.find((v) => v.mbrId === 0x42 || (v.gptType !== null && LDM_GPT_TYPES.includes(v.gptType.toUpperCase())));
  if (ldm) {
    throw new FerryError({ code: "convert.dynamic-disk", message: `${ldm.device} is on a Windows dynamic disk (Logical Disk Manager${ldm.mbrId === 0x42 ? ", MBR partition type 0x42" : ", LDM partition"}): Ferry converts basic disks only`, file: null, hint: "convert the disk back to a basic disk inside the guest on VMware (Disk Management, or diskpart's convert basic after moving the data off), or use --copy-only (the guest then keeps its own drivers and may not boot on KVM)" });
  }
  for (const v of volumes) {
    const bad = v.ntfsProbe === null ? null : judgeNtfsProbe(v.device, v.ntfsProbe);
    if (bad) throw new FerryError({ code: bad.id, message: bad.message, file: null, hint: bad.hint });
  }
}

/** Windows older than 7 / Server 2008 R2 (NT 6.1): current virtio-win has no drivers for it, and Ferry does not convert it. */
export function refuseOldWindows(product: string, major: number, minor: number): void {
  if (major > 6 || (major === 6 && minor >= 1)) return;
  throw new FerryError({ code: "convert.windows-too-old", message: `${product || "this Windows"} is Windows NT ${major}.${minor}; Ferry converts Windows 7 / Server 2008 R2 (NT 6.1) and later, as current virtio-win releases do`, file: null, hint: "upgrade the guest on VMware, or use --copy-only (it then runs on emulated SATA and e1000e if it has drivers for them)" });
}
