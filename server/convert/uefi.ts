import { FerryError } from "../errors";
import type { Appliance } from "./appliance";
import type { GuestInspection, UefiReport } from "./guest";

/**
 * UEFI guests: VMware keeps the boot entry in its own NVRAM file, which
 * KVM's firmware cannot read, and many installers (Debian's among them)
 * leave the ESP without the removable-media fallback \EFI\BOOT\BOOTX64.EFI.
 * With fresh OVMF variables such a guest finds nothing to boot. Ferry does
 * both things that make it boot: installs the fallback (a copy of the
 * guest's own shim or grub, with what they load beside them) and reports
 * the guest's own entry, which the output writes into a per-guest OVMF
 * variables file so the firmware boots the loader VMware booted.
 */

/** Where guests mount the EFI system partition. */
export const ESP_MOUNTPOINTS = ["/boot/efi", "/efi", "/boot"];

/** The ESP among the guest's mounts (a vfat filesystem at one of the usual places), from inspection alone. */
export function espMount(g: Pick<GuestInspection, "mountpoints">): { mountpoint: string; device: string } | null {
  return ESP_MOUNTPOINTS.map((m) => g.mountpoints.find((x) => x.mountpoint === m)).find((x) => x !== undefined) ?? null;
}

export function refuseWithoutEsp(g: GuestInspection): void {
  if (espMount(g)) return;
  throw new FerryError({ code: "convert.uefi-no-esp", message: "the guest boots with UEFI, but its /etc/fstab mounts no EFI system partition (/boot/efi or /efi)", file: null, hint: "mount the ESP at /boot/efi in the guest's /etc/fstab on VMware, then run Ferry again; or use --copy-only" });
}

/** Loader directories by distribution: the installer's own name for it. */
const VENDOR_DIRS = ["debian", "ubuntu", "redhat", "centos", "fedora", "rocky", "almalinux", "ol", "opensuse", "sles", "suse"];

export async function ensureUefiBoot(app: Appliance, g: GuestInspection, log: (m: string) => void): Promise<UefiReport> {
  const esp = espMount(g)!;
  const type = await app.tryCall<string>("vfs_type", esp.device);
  if (type !== "vfat") {
    throw new FerryError({ code: "convert.uefi-esp", message: `the guest's ${esp.mountpoint} (${esp.device}) is ${type ?? "unreadable"}, not a FAT EFI system partition`, file: null, hint: "check the guest's /etc/fstab on VMware; or use --copy-only" });
  }
  // FAT is case-insensitive: find names as the ESP spells them.
  const real = (path: string) => app.tryCall<string>("case_sensitive_path", path);
  const efiDir = await real(`${esp.mountpoint}/EFI`);
  const dirs = efiDir ? ((await app.tryCall<string[]>("ls", efiDir)) ?? []) : [];
  const fallbackPath = await real(`${esp.mountpoint}/EFI/BOOT/BOOTX64.EFI`);
  const hasFallback = !!fallbackPath && (await app.call<boolean>("is_file", fallbackPath));

  // The guest's own loader: shim where there is one (Secure Boot), else grub.
  const ordered = [...dirs.filter((d) => d.toUpperCase() !== "BOOT")].sort((a, b) => rank(a, g.distro) - rank(b, g.distro));
  let loader: { dir: string; file: string; shim: boolean } | null = null;
  for (const dir of ordered) {
    for (const [file, shim] of [["shimx64.efi", true], ["grubx64.efi", false]] as const) {
      const p = await real(`${efiDir}/${dir}/${file}`);
      if (p && (await app.call<boolean>("is_file", p))) {
        loader = { dir, file: p.slice(p.lastIndexOf("/") + 1), shim };
        break;
      }
    }
    if (loader) break;
  }
  if (!loader && !hasFallback) {
    throw new FerryError({ code: "convert.uefi-no-loader", message: `the guest's EFI system partition (${esp.device}) holds no boot loader (no shimx64.efi or grubx64.efi under \\EFI, and no \\EFI\\BOOT\\BOOTX64.EFI)`, file: null, hint: "reinstall the boot loader in the guest on VMware (grub-install), then run Ferry again" });
  }
  const espRel = (p: string) => `\\${p.slice(esp.mountpoint.length + 1).split("/").join("\\")}`;
  const report: UefiReport = { esp: esp.device, mountpoint: esp.mountpoint, loader: loader ? espRel(`${efiDir}/${loader.dir}/${loader.file}`) : espRel(fallbackPath!), fallback: hasFallback ? "present" : "installed", fallbackFiles: [], bootEntry: null };

  if (!hasFallback && loader) {
    const from = `${efiDir}/${loader.dir}`;
    const boot = `${efiDir}/BOOT`;
    await app.call("mkdir_p", boot);
    // shim loads grubx64.efi (and mmx64.efi) from its own folder; Debian's signed grub reads grub.cfg there.
    const copies: Array<[string, string]> = loader.shim ? [[loader.file, "BOOTX64.EFI"], ["grubx64.efi", "grubx64.efi"], ["mmx64.efi", "mmx64.efi"], ["grub.cfg", "grub.cfg"]] : [[loader.file, "BOOTX64.EFI"], ["grub.cfg", "grub.cfg"]];
    for (const [src, dst] of copies) {
      const p = await real(`${from}/${src}`);
      if (!p || !(await app.call<boolean>("is_file", p))) continue;
      await app.call("cp", p, `${boot}/${dst}`);
      report.fallbackFiles.push(espRel(`${boot}/${dst}`));
    }
    log(`UEFI: installed the fallback loader ${report.fallbackFiles.join(", ")} from ${espRel(from)}`);
  } else if (hasFallback) log(`UEFI: the ESP already has the fallback loader ${espRel(fallbackPath!)}`);

  // The guest's own boot entry, for the per-guest OVMF variables: only on GPT, which names the partition by GUID.
  if (loader) {
    const part = await espPartition(app, esp.device);
    if (part) {
      report.bootEntry = { description: loader.dir, path: report.loader, partition: part.partition, disk: part.disk };
      log(`UEFI: the guest's boot entry "${loader.dir}" → ${report.loader} on partition ${part.partition.number} (${part.partition.guid})`);
    } else log("UEFI: the ESP is not on a GPT disk; the firmware boots the fallback loader");
  }
  return report;
}

function rank(dir: string, distro: string): number {
  const d = dir.toLowerCase();
  if (d === distro.toLowerCase()) return 0;
  const i = VENDOR_DIRS.indexOf(d);
  return i === -1 ? 100 : 1 + i;
}

/** The ESP's place on its disk: partition number, start and size in sectors, GPT partition GUID, disk index. */
async function espPartition(app: Appliance, device: string): Promise<{ disk: number; partition: { number: number; startLba: number; sizeLba: number; guid: string } } | null> {
  const disk = await app.tryCall<string>("part_to_dev", device);
  const number = await app.tryCall<number>("part_to_partnum", device);
  if (!disk || !number || (await app.tryCall<string>("part_get_parttype", disk)) !== "gpt") return null;
  const parts = (await app.call<Array<{ part_num: number; part_start: number; part_size: number }>>("part_list", disk)) ?? [];
  const p = parts.find((x) => x.part_num === number);
  const guid = await app.tryCall<string>("part_get_gpt_guid", disk, number);
  const sector = (await app.tryCall<number>("blockdev_getss", disk)) ?? 512;
  if (!p || !guid) return null;
  const devices = await app.call<string[]>("list_devices");
  return { disk: Math.max(0, devices.indexOf(disk)), partition: { number, startLba: p.part_start / sector, sizeLba: p.part_size / sector, guid: guid.toLowerCase() } };
}
