import { readdirSync, statSync, type Stats } from "node:fs";
import { join, relative } from "node:path";
import { z } from "zod";
import { FerryError } from "../errors";

/**
 * virtio-win: Red Hat's signed Windows drivers for KVM, as Fedora and Red
 * Hat ship them (the ISO's layout DRIVER/OS/ARCH/file, `viostor/w10/amd64/
 * viostor.sys`, or the RPM's /usr/share/virtio-win `drivers/by-os/amd64/w10`
 * and `drivers/amd64/Win10`). Ferry ships and downloads none: the admin
 * points it at a tree (or an ISO, unpacked by the appliance). Picking the
 * files for a guest is pure: a file list in, the files to use out.
 */

/** The folder names virtio-win uses for each Windows (libosinfo's short ids). */
const OS_DIRS: Record<string, string[]> = {
  win7: ["w7", "win7"],
  win2k8r2: ["2k8r2", "win2008r2"],
  win8: ["w8", "win8"],
  "win8.1": ["w8.1", "win8.1"],
  win2k12: ["2k12", "win2012"],
  win2k12r2: ["2k12r2", "win2012r2"],
  win10: ["w10", "win10"],
  win11: ["w11", "win11"],
  win2k16: ["2k16", "win2016"],
  win2k19: ["2k19", "win2019"],
  win2k22: ["2k22", "win2022"],
  win2k25: ["2k25", "win2025"],
};
const ARCH_DIRS: Record<string, string[]> = { x86_64: ["amd64"], i386: ["x86", "i386"] };

/** The drivers Ferry installs: the boot-critical block driver and the ones staged for the first boot. */
export const BLOCK_DRIVERS = ["viostor", "vioscsi"] as const;
const STAGED = ["netkvm", "balloon", "vioserial", "viorng", "pvpanic", "fwcfg"] as const;

export const VirtioWinPick = z.object({
  /** The tree or ISO the files come from. */
  source: z.string(),
  osinfo: z.string(),
  arch: z.string(),
  /** The boot driver (virtio-blk's viostor), with its files; null when the tree has none for this Windows. */
  block: z.object({ name: z.string(), files: z.array(z.string()) }).nullable(),
  /** Other drivers' files, staged for pnputil at first boot (netkvm, balloon, ...). */
  staged: z.array(z.object({ name: z.string(), files: z.array(z.string()) })),
  /** The QEMU guest agent's MSI for this architecture, when the tree has one. */
  guestAgent: z.string().nullable(),
});
export type VirtioWinPick = z.infer<typeof VirtioWinPick>;

/** Whether a relative path is a driver file for this Windows and architecture (virt-v2v's rules: no .pdb, nothing from sriov). */
export function matchesGuest(path: string, osinfo: string, arch: string): boolean {
  const parts = path.toLowerCase().split("/");
  const has = (names: string[]) => names.some((n) => parts.slice(0, -1).includes(n));
  const osDirs = OS_DIRS[osinfo];
  if (!osDirs || !has(osDirs) || !has(ARCH_DIRS[arch] ?? [])) return false;
  if (path.toLowerCase().endsWith(".pdb") || has(["sriov"]) || path.toLowerCase().includes("vioprot.")) return false;
  return true;
}

/** A driver's files: the .sys, .inf and .cat (and helpers) named after it, for this guest. */
function driverFiles(files: string[], name: string, osinfo: string, arch: string): string[] {
  const mine = files.filter((f) => matchesGuest(f, osinfo, arch) && f.split("/").pop()!.toLowerCase().split(".")[0] === name);
  // The ISO lists each driver twice (DRIVER/OS/ARCH and the RPM's by-os tree); take one copy of each file name.
  const seen = new Set<string>();
  return mine.sort().filter((f) => {
    const base = f.split("/").pop()!.toLowerCase();
    if (seen.has(base)) return false;
    seen.add(base);
    return true;
  });
}

export function pickVirtioWin(source: string, files: string[], osinfo: string, arch: string): VirtioWinPick {
  const block = BLOCK_DRIVERS.map((name) => ({ name, files: driverFiles(files, name, osinfo, arch) })).find((d) => d.files.some((f) => f.toLowerCase().endsWith(".sys")) && d.files.some((f) => f.toLowerCase().endsWith(".inf")));
  const staged = [...STAGED, "blnsvr"]
    .map((name) => ({ name, files: driverFiles(files, name, osinfo, arch) }))
    .filter((d) => d.files.length > 0);
  const ga = { x86_64: ["qemu-ga-x86_64.msi", "qemu-ga-x64.msi", "rhev-qga64.msi"], i386: ["qemu-ga-i386.msi", "qemu-ga-x86.msi", "rhev-qga.msi"] }[arch] ?? [];
  const guestAgent = files.find((f) => ga.includes(f.split("/").pop()!.toLowerCase())) ?? null;
  return { source, osinfo, arch, block: block ?? null, staged, guestAgent };
}

/** Every Windows (`win10/x86_64`) the tree has a boot driver for: what the plan checks a guest against. */
export function supportedWindows(files: string[]): string[] {
  const out: string[] = [];
  for (const osinfo of Object.keys(OS_DIRS)) for (const arch of Object.keys(ARCH_DIRS)) if (pickVirtioWin("", files, osinfo, arch).block) out.push(`${osinfo}/${arch}`);
  return out;
}

/** At most this many files are listed from a tree (a real virtio-win tree has about 2,000). */
const MAX_FILES = 50_000;

/** The files of an unpacked virtio-win tree, relative to it; symbolic links followed (the RPM's by-os tree is links). */
export function listVirtioWinTree(dir: string): string[] {
  let top: Stats;
  try {
    top = statSync(dir);
  } catch (e) {
    throw new FerryError({ code: "virtio-win.missing", message: `virtio-win: ${dir} does not exist (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file: dir, hint: "install virtio-win (Fedora/RHEL: dnf install virtio-win; it goes to /usr/share/virtio-win) or unpack its ISO, and give that folder" });
  }
  if (!top.isDirectory()) {
    throw new FerryError({ code: "virtio-win.not-a-tree", message: `virtio-win: ${dir} is not a folder`, file: dir, hint: "give the virtio-win folder, or the virtio-win ISO file" });
  }
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      let s: Stats;
      try {
        s = statSync(p);
      } catch {
        continue; // a dangling link
      }
      if (s.isDirectory()) walk(p, depth + 1);
      else if (s.isFile()) out.push(relative(dir, p));
      if (out.length > MAX_FILES) throw new FerryError({ code: "virtio-win.too-big", message: `virtio-win: ${dir} has more than ${MAX_FILES} files; it is not a virtio-win tree`, file: dir, hint: "give the virtio-win folder itself" });
    }
  };
  walk(dir, 0);
  if (!out.some((f) => /(^|\/)(viostor|vioscsi)\.sys$/i.test(f))) {
    throw new FerryError({ code: "virtio-win.empty", message: `virtio-win: ${dir} holds no viostor.sys or vioscsi.sys: it is not a virtio-win tree`, file: dir, hint: "give the folder that holds viostor/, NetKVM/ ... (the ISO's root, or /usr/share/virtio-win)" });
  }
  return out.sort();
}
