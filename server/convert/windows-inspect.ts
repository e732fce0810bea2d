import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Appliance } from "./appliance";
import { readKeys } from "./regedit";
import { valueOf } from "./registry";
import { dwordOf, listOf, NET_CLASS, staticInterface, stringOf, VMWARE_SERVICES, vmwareToolsEntries, type VolumeFacts, type WindowsFacts } from "./windows-facts";

/**
 * Windows inspection's I/O: libguestfs' own Windows facts, the guest's
 * volumes (for the refusals), and the SYSTEM and SOFTWARE hives, downloaded
 * to this host and read with hivex. The reading rules are in windows-facts.ts.
 */

/** Every partition (or whole-disk filesystem) as the refusals need it. */
export async function volumeFacts(g: Appliance): Promise<VolumeFacts[]> {
  const out: VolumeFacts[] = [];
  for (const device of await g.call<string[]>("list_partitions")) {
    const fsType = (await g.tryCall<string>("vfs_type", device)) ?? "";
    const disk = await g.call<string>("part_to_dev", device);
    const n = await g.call<number>("part_to_partnum", device);
    const table = (await g.tryCall<string>("part_get_parttype", disk)) ?? "";
    const mbrId = table === "msdos" ? await g.tryCall<number>("part_get_mbr_id", disk, n) : null;
    const gptType = table === "gpt" ? await g.tryCall<string>("part_get_gpt_type", disk, n) : null;
    const ntfsProbe = fsType === "ntfs" ? await g.tryCall<number>("ntfs_3g_probe", true, device) : null;
    out.push({ device, fsType, mbrId, gptType, ntfsProbe });
  }
  return out;
}

/** The partition Windows boots from: the active MBR partition, or the EFI system partition. */
async function bootPartition(g: Appliance): Promise<string | null> {
  for (const device of await g.call<string[]>("list_partitions")) {
    const disk = await g.call<string>("part_to_dev", device);
    const n = await g.call<number>("part_to_partnum", device);
    const table = await g.tryCall<string>("part_get_parttype", disk);
    if (table === "msdos" && (await g.tryCall<boolean>("part_get_bootable", disk, n))) return device;
    if (table === "gpt" && (await g.tryCall<string>("part_get_gpt_type", disk, n))?.toUpperCase() === "C12A7328-F81F-11D2-BA4B-00A0C93EC93B") return device;
  }
  return null;
}

export async function inspectWindows(g: Appliance, root: string): Promise<WindowsFacts> {
  const systemRoot = await g.call<string>("inspect_get_windows_systemroot", root);
  const controlSet = await g.call<string>("inspect_get_windows_current_control_set", root);
  const systemHive = await g.call<string>("inspect_get_windows_system_hive", root);
  const softwareHive = await g.call<string>("inspect_get_windows_software_hive", root);
  const dir = mkdtempSync(join(tmpdir(), "ferry-hives-"));
  try {
    const system = join(dir, "SYSTEM");
    const software = join(dir, "SOFTWARE");
    await g.call("download", systemHive, system);
    await g.call("download", softwareHive, software);
    const cs = controlSet;
    const [current, uninstall] = readKeys(software, [["Microsoft", "Windows NT", "CurrentVersion"], ["Microsoft", "Windows", "CurrentVersion", "Uninstall"]]);
    const uninstallKeys = readKeys(software, (uninstall?.subkeys ?? []).map((k) => ["Microsoft", "Windows", "CurrentVersion", "Uninstall", k]));
    const [services, classes, netClass, interfaces, ddb] = readKeys(system, [[cs, "Services"], [cs, "Control", "Class"], [cs, "Control", "Class", NET_CLASS], [cs, "Services", "Tcpip", "Parameters", "Interfaces"], ["DriverDatabase"]]);
    const present = VMWARE_SERVICES.map((name) => services?.subkeys.find((s) => s.toLowerCase() === name.toLowerCase())).filter((n): n is string => !!n);
    const classGuids = classes?.subkeys ?? [];
    const netInstances = (netClass?.subkeys ?? []).filter((k) => /^\d{4}$/.test(k));
    const ifaces = interfaces?.subkeys ?? [];
    const keys = readKeys(system, [
      [cs, "Services", "storahci"],
      [cs, "Services", "storahci", "StartOverride"],
      ...present.map((n) => [cs, "Services", n]),
      ...classGuids.map((c) => [cs, "Control", "Class", c]),
      ...netInstances.map((i) => [cs, "Control", "Class", NET_CLASS, i]),
      ...ifaces.map((i) => [cs, "Services", "Tcpip", "Parameters", "Interfaces", i]),
    ]);
    const [ahci, override] = keys;
    let at = 2;
    const svcKeys = keys.slice(at, (at += present.length));
    const classKeys = keys.slice(at, (at += classGuids.length));
    const netKeys = keys.slice(at, (at += netInstances.length));
    const ifaceKeys = keys.slice(at);
    const vmwareLower = new Set(VMWARE_SERVICES.map((s) => s.toLowerCase()));
    const filters: WindowsFacts["vmwareFilters"] = [];
    classGuids.forEach((guid, i) => {
      for (const value of ["UpperFilters", "LowerFilters"] as const) {
        const l = listOf(valueOf(classKeys[i] ?? null, value));
        if (l.some((f) => vmwareLower.has(f.toLowerCase()))) filters.push({ classGuid: guid, value, list: l });
      }
    });
    // The adapter behind each TCP/IP interface: the network class instance whose NetCfgInstanceId is its GUID.
    const adapterOf = (guid: string) => {
      const i = netKeys.findIndex((k) => stringOf(valueOf(k, "NetCfgInstanceId"))?.toLowerCase() === guid.toLowerCase());
      return i < 0 ? null : stringOf(valueOf(netKeys[i]!, "DriverDesc"));
    };
    return {
      systemRoot,
      controlSet,
      systemHive,
      softwareHive,
      variant: await g.call<string>("inspect_get_product_variant", root),
      osinfo: await g.call<string>("inspect_get_osinfo", root),
      edition: stringOf(valueOf(current ?? null, "EditionID")),
      build: stringOf(valueOf(current ?? null, "CurrentBuildNumber")),
      bootPartition: await bootPartition(g),
      driverDatabase: ddb !== null,
      ahci: {
        start: dwordOf(valueOf(ahci ?? null, "Start")),
        overrides: Object.fromEntries((override?.values ?? []).filter((v) => v.value.type === "dword").map((v) => [v.name, v.value.value as number])),
      },
      vmwareServices: present.map((name, i) => ({ name, start: dwordOf(valueOf(svcKeys[i] ?? null, "Start")) })),
      vmwareFilters: filters,
      vmwareTools: vmwareToolsEntries(uninstallKeys.map((key) => ({ key }))),
      staticInterfaces: ifaces.map((guid, i) => staticInterface(guid, ifaceKeys[i] ?? null, adapterOf(guid))).filter((s) => s !== null),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
