import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { FerryError } from "../errors";
import { formatBytes } from "../units";
import type { Appliance } from "./appliance";
import { GuestInspection, VIRTIO_DRIVERS, type FsCheck, type GuestFilesystem, type GuestKernel } from "./guest";
import { listInitramfs, type Compression, type InitramfsListing } from "./initramfs";
import { refuseOldWindows, refuseVolumes } from "./windows-facts";
import { inspectWindows, volumeFacts } from "./windows-inspect";

/**
 * Inspection: libguestfs finds the operating system, then Ferry reads what
 * conversion needs (kernels and their virtio drivers, bootloader, VMware
 * tools, free space). Mounts the guest's filesystems at their mountpoints
 * and leaves them mounted for the conversion.
 */

const TOOLS_PACKAGES = /^(open-vm-tools(-desktop|-dkms|-sdmp)?|vmware-tools(-.*)?|VMwareTools)$/;
const TOOLS_UNINSTALLER = "/usr/bin/vmware-uninstall-tools.pl";

/** Kernel version order: 6.1.0-10 < 6.1.0-9 would be wrong, so compare numerically. */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+_~]/);
  const pb = b.split(/[.\-+_~]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? "";
    const y = pb[i] ?? "";
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

export async function inspectGuestOs(g: Appliance): Promise<GuestInspection> {
  // BitLocker and dynamic disks hide Windows from inspection: look at the volumes first.
  const volumes = await volumeFacts(g);
  const roots = await g.call<string[]>("inspect_os");
  if (roots.length === 0) {
    refuseVolumes(volumes);
    throw new FerryError({ code: "convert.no-os", message: "no operating system was found on the guest's disks", file: null, hint: "check that the right disks were chosen (a data disk alone has no OS); to copy the disks without converting, use --copy-only (in the wizard: untick “Convert for KVM”)" });
  }
  if (roots.length > 1) {
    throw new FerryError({ code: "convert.multi-boot", message: `the disks hold ${roots.length} operating systems (${roots.join(", ")})`, file: null, hint: "multi-boot guests are not converted; use --copy-only (in the wizard: untick “Convert for KVM”)" });
  }
  const root = roots[0]!;
  const str = (op: string) => g.call<string>(op, root);
  const num = (op: string) => g.call<number>(op, root);
  const type = await str("inspect_get_type");
  // Before anything is mounted for writing: a hibernated Windows must not be touched.
  if (type === "windows") {
    refuseVolumes(volumes);
    refuseOldWindows(await str("inspect_get_product_name"), await num("inspect_get_major_version"), await num("inspect_get_minor_version"));
  }
  const mounts = await g.call<Record<string, string>>("inspect_get_mountpoints", root);
  const mountpoints = Object.entries(mounts)
    .map(([mountpoint, device]) => ({ mountpoint, device }))
    .sort((a, b) => a.mountpoint.length - b.mountpoint.length);
  // Check before anything is mounted: a damaged filesystem is refused before Ferry writes to it.
  const fsChecks = await checkFilesystems(g, mountpoints);
  refuseDamaged(fsChecks);
  const unmounted: string[] = [];
  for (const m of mountpoints) {
    // The root must mount; a missing or unmountable extra filesystem must not stop inspection (it is reported).
    if (m.mountpoint === "/") await g.call("mount", m.device, m.mountpoint);
    else {
      try {
        await g.call("mount", m.device, m.mountpoint);
      } catch (e) {
        if (!(e instanceof FerryError) || e.code !== "guestfs.call") throw e;
        unmounted.push(`${m.mountpoint} (${m.device}): ${e.message}`);
      }
    }
  }
  const base = {
    type,
    distro: await str("inspect_get_distro"),
    majorVersion: await num("inspect_get_major_version"),
    minorVersion: await num("inspect_get_minor_version"),
    arch: await str("inspect_get_arch"),
    product: await str("inspect_get_product_name"),
    hostname: await str("inspect_get_hostname"),
    root,
    packageFormat: await str("inspect_get_package_format"),
    packageManagement: await str("inspect_get_package_management"),
    mountpoints,
    unmounted,
  };
  const linux = type === "linux";
  const windows = type === "windows" ? await inspectWindows(g, root) : null;
  return GuestInspection.parse({
    ...base,
    kernels: linux ? await kernels(g) : [],
    bootloader: linux ? await bootloader(g) : { kind: "none", config: null },
    filesystems: await filesystems(g, mountpoints),
    vmwareTools: linux ? await vmwareTools(g, base.packageFormat) : (windows?.vmwareTools.map((t) => t.name) ?? []),
    selinux: linux ? await selinuxEnabled(g) : false,
    initramfsTool: linux ? await initramfsTool(g) : null,
    fsChecks,
    windows,
  });
}

/** The tool that builds the guest's initramfs, by what is installed (dracut first: SUSE's mkinitrd wraps it). */
async function initramfsTool(g: Appliance): Promise<GuestInspection["initramfsTool"]> {
  if (await g.anyFile(["/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"])) return "dracut";
  if (await g.anyFile(["/usr/sbin/update-initramfs", "/sbin/update-initramfs"])) return "update-initramfs";
  if (await g.anyFile(["/sbin/mkinitrd", "/usr/sbin/mkinitrd", "/usr/bin/mkinitrd"])) return "mkinitrd";
  return null;
}

/**
 * Read-only filesystem checkers, each run before anything is mounted:
 * `xfs_repair -n` through libguestfs' call, `e2fsck -fn`. Other filesystems
 * are not checked, and the report says so.
 */
const CHECKERS: Record<string, (g: Appliance, dev: string) => Promise<string>> = {
  ext2: e2fsck,
  ext3: e2fsck,
  ext4: e2fsck,
  xfs: async (g, dev) => {
    try {
      return `ferry-rc=${await g.call<number>("xfs_repair", dev, { nomodify: true })}`;
    } catch (e) {
      if (!(e instanceof FerryError) || e.code !== "guestfs.call") throw e;
      return `${e.message}\nferry-rc=${/log which needs to be replayed/.test(e.message) ? 2 : 1}`;
    }
  },
};

/**
 * e2fsck -fn (read-only) in the appliance's shell. The shell names devices
 * as the appliance's kernel does (its own disk may be sda, the guest's sdb),
 * so the filesystem is named by its UUID, which e2fsck resolves itself.
 */
async function e2fsck(g: Appliance, dev: string): Promise<string> {
  const uuid = (await g.tryCall<string>("vfs_uuid", dev)) ?? "";
  if (!/^[0-9a-fA-F-]{8,36}$/.test(uuid)) return `no UUID to name ${dev} by\nferry-rc=unchecked`;
  return g.call<string>("debug", "sh", [`e2fsck -fn UUID=${uuid} 2>&1; echo "ferry-rc=$?"`]);
}

async function checkFilesystems(g: Appliance, mountpoints: Array<{ mountpoint: string; device: string }>): Promise<FsCheck[]> {
  const out: FsCheck[] = [];
  for (const m of mountpoints) {
    const type = (await g.tryCall<string>("vfs_type", m.device)) ?? "unknown";
    const checker = CHECKERS[type];
    if (!checker) {
      out.push({ device: m.device, type, mountpoint: m.mountpoint, result: "not-checked", detail: `no read-only checker for ${type}` });
      continue;
    }
    out.push({ device: m.device, type, mountpoint: m.mountpoint, ...judgeFsCheck(type, await checker(g, m.device)) });
  }
  return out;
}

/** Read a checker's output and exit code (pure, so each verdict is tested). */
export function judgeFsCheck(type: string, output: string): Pick<FsCheck, "result" | "detail"> {
  if (/ferry-rc=unchecked\s*$/.test(output)) return { result: "not-checked", detail: output.replace(/\nferry-rc=unchecked\s*$/, "") };
  const rc = Number(/ferry-rc=(\d+)\s*$/.exec(output)?.[1] ?? "-1");
  const lines = output.replace(/ferry-rc=\d+\s*$/, "").split("\n").map((l) => l.trim()).filter(Boolean);
  if (type === "xfs") {
    // Exit 2: a dirty log, which mounting replays (a guest that was not shut down cleanly).
    if (rc === 2 || /log which needs to be replayed/.test(output)) return { result: "dirty-log", detail: "the XFS log holds changes not yet written (the guest was not shut down cleanly); mounting replays it" };
    if (rc === 0) return { result: "clean", detail: "xfs_repair -n: no problems" };
    return { result: "damaged", detail: `xfs_repair -n exit ${rc}: ${lines.filter((l) => !/^(Phase|-)/.test(l)).slice(-3).join("; ") || lines.slice(-2).join("; ")}` };
  }
  // e2fsck: 0 clean, 1/2 would correct, 4 errors left uncorrected (with -n: found), 8+ operational error.
  if (rc === 0) return { result: "clean", detail: "e2fsck -fn: clean" };
  if (/needs_recovery|skipping journal recovery/i.test(output) && rc === 4 && !/\b(Inode|Block bitmap|Entry|Free blocks count wrong|Illegal)\b/.test(output)) {
    return { result: "dirty-log", detail: "the journal holds changes not yet written (the guest was not shut down cleanly); mounting replays it" };
  }
  return { result: "damaged", detail: `e2fsck -fn exit ${rc}: ${lines.filter((l) => !/^(Pass \d|e2fsck \d)/.test(l)).slice(0, 3).join("; ")}` };
}

function refuseDamaged(checks: FsCheck[]): void {
  const bad = checks.find((c) => c.result === "damaged");
  if (!bad) return;
  const tool = bad.type === "xfs" ? "xfs_repair" : "fsck";
  throw new FerryError({
    code: "convert.fs-damaged",
    message: `the guest's ${bad.mountpoint} filesystem (${bad.device}, ${bad.type}) is damaged: ${bad.detail}`,
    file: null,
    hint: `nothing was written; repair it inside the guest on VMware (boot a rescue image and run ${tool} on it, or 'touch /forcefsck' and reboot), then run Ferry again`,
  });
}

async function kernels(g: Appliance): Promise<GuestKernel[]> {
  const boot = (await g.tryCall<string[]>("ls", "/boot")) ?? [];
  const found: GuestKernel[] = [];
  for (const name of boot) {
    const m = /^vmlinuz-(.+)$/.exec(name);
    if (!m) continue;
    const version = m[1]!;
    const modDir = `/lib/modules/${version}`;
    if (!(await g.call<boolean>("is_dir", modDir))) continue;
    const files = (await g.tryCall<string[]>("glob_expand", `${modDir}/kernel/drivers/*/virtio*.ko*`)) ?? [];
    const moduleNames = new Set(files.map((f) => f.replace(/^.*\//, "").replace(/\.ko(\..*)?$/, "").replace(/-/g, "_")));
    const builtinText = (await g.readText(`${modDir}/modules.builtin`)) ?? "";
    const builtin = new Set(builtinText.split("\n").map((l) => l.replace(/^.*\//, "").replace(/\.ko$/, "").replace(/-/g, "_")));
    const virtio = Object.fromEntries(VIRTIO_DRIVERS.map((d) => [d, builtin.has(d) ? "builtin" : moduleNames.has(d) ? "module" : "missing"]));
    let initrd: string | null = null;
    for (const candidate of [`/boot/initrd.img-${version}`, `/boot/initramfs-${version}.img`, `/boot/initrd-${version}`]) {
      if (await g.call<boolean>("is_file", candidate)) {
        initrd = candidate;
        break;
      }
    }
    found.push({ version, vmlinuz: `/boot/${name}`, initrd, virtio: virtio as GuestKernel["virtio"] });
  }
  return found.sort((a, b) => compareKernelVersions(b.version, a.version));
}

async function bootloader(g: Appliance): Promise<GuestInspection["bootloader"]> {
  for (const config of ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"]) {
    if (await g.call<boolean>("is_file", config)) return { kind: "grub2", config };
  }
  for (const config of ["/boot/grub/menu.lst", "/boot/grub/grub.conf"]) {
    if (await g.call<boolean>("is_file", config)) return { kind: "grub-legacy", config };
  }
  return { kind: "none", config: null };
}

async function filesystems(g: Appliance, mountpoints: Array<{ mountpoint: string; device: string }>): Promise<GuestFilesystem[]> {
  const out: GuestFilesystem[] = [];
  const mounted = new Set(Object.values(await g.call<Record<string, string>>("mountpoints")));
  for (const m of mountpoints) {
    if (!mounted.has(m.mountpoint)) continue;
    const st = await g.tryCall<Record<string, number>>("statvfs", m.mountpoint);
    if (!st) continue;
    const bsize = st.frsize || st.bsize || 0;
    out.push({ mountpoint: m.mountpoint, device: m.device, sizeBytes: (st.blocks ?? 0) * bsize, freeBytes: (st.bfree ?? 0) * bsize, inodes: st.files ?? 0, freeInodes: st.ffree ?? 0 });
  }
  return out;
}

async function vmwareTools(g: Appliance, packageFormat: string): Promise<string[]> {
  const found: string[] = [];
  if (packageFormat === "deb") {
    const text = (await g.tryCall<string>("sh", "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 2>/dev/null || true")) ?? "";
    for (const line of text.split("\n")) {
      const [pkg, status] = line.trim().split(/\s+/);
      if (pkg && status?.startsWith("i") && TOOLS_PACKAGES.test(pkg)) found.push(pkg);
    }
  } else if (packageFormat === "rpm") {
    const text = (await g.tryCall<string>("sh", "rpm -qa --qf '%{NAME}\\n' 2>/dev/null || true")) ?? "";
    for (const pkg of text.split("\n").map((l) => l.trim())) if (TOOLS_PACKAGES.test(pkg)) found.push(pkg);
  }
  if (await g.call<boolean>("is_file", TOOLS_UNINSTALLER)) found.push(TOOLS_UNINSTALLER);
  return found;
}

async function selinuxEnabled(g: Appliance): Promise<boolean> {
  const text = await g.readText("/etc/selinux/config");
  return !!text && /^\s*SELINUX\s*=\s*(enforcing|permissive)\s*$/m.test(text);
}

/** A decompressed initramfs larger than this is refused (a real one is under 300 MiB). */
const MAX_UNPACKED = 1024 ** 3;

/** Decompress with Node for gzip, with the host's tools for the rest (zstd is Debian 12's default). */
export function hostDecompress(kind: Compression, data: Buffer): Buffer {
  if (kind === "gzip") return gunzipSync(data, { maxOutputLength: MAX_UNPACKED });
  const tool = { zstd: ["zstd", "-dcq"], xz: ["xz", "-dc"], lzma: ["xz", "--format=lzma", "-dc"], lz4: ["lz4", "-dcq"], bzip2: ["bzip2", "-dc"] }[kind];
  const r = spawnSync(tool[0]!, tool.slice(1), { input: data, maxBuffer: MAX_UNPACKED });
  if (r.error || r.status !== 0) {
    throw new FerryError({ code: "initramfs.decompress", message: `cannot decompress the ${kind} part of the initramfs: ${r.error?.message ?? r.stderr.toString().trim()}`, file: null, hint: `install ${tool[0]} on the Ferry host` });
  }
  return r.stdout;
}

/** An initramfs larger than this is refused rather than read into memory on the host. */
export const MAX_INITRAMFS = 512 * 1024 ** 2;

/** Download the guest's initramfs to the host and list it there (fast, unlike lsinitramfs under emulation). */
export async function readGuestInitramfs(g: Appliance, path: string): Promise<InitramfsListing> {
  const dir = mkdtempSync(join(tmpdir(), "ferry-initrd-"));
  try {
    const local = join(dir, "initrd");
    const size = await g.call<number>("filesize", path);
    if (size > MAX_INITRAMFS) {
      throw new FerryError({ code: "initramfs.too-big", message: `${path} is ${formatBytes(size)}; Ferry reads initramfs images of at most ${formatBytes(MAX_INITRAMFS)}`, file: path, hint: "rebuild a smaller initramfs in the guest (MODULES=dep, or dracut --hostonly), then run Ferry again" });
    }
    await g.call("download", path, local);
    return listInitramfs(readFileSync(local), hostDecompress, path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
