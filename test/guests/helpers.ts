/**
 * Reading the built test guests from the host, the way a test should: the
 * VMX as text, partition tables with sfdisk, ext4 with debugfs, and what
 * needs a kernel (LVM, XFS) with one read-only libguestfs session.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { probeAccel, libguestfsEnv } from "../../server/qemu/accel";

/** A VMX's value for a key (the first line naming it), or null. */
export function vmxValue(vmx: string, key: string): string | null {
  for (const line of readFileSync(vmx, "utf8").split("\n")) {
    const m = /^\s*([^=\s]+)\s*=\s*"(.*)"\s*$/.exec(line);
    if (m && m[1]!.toLowerCase() === key.toLowerCase()) return m[2]!;
  }
  return null;
}

/** `length` bytes of a (large, sparse) image from `offset`. */
export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(length);
    const n = readSync(fd, b, 0, length, offset);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** ethernet0..N's generated MACs, in VMX order. */
export function vmxMacs(vmx: string): string[] {
  const macs: string[] = [];
  for (let i = 0; vmxValue(vmx, `ethernet${i}.present`) === "TRUE"; i++) macs.push(vmxValue(vmx, `ethernet${i}.generatedAddress`)!);
  return macs;
}

/** A plain copy: qemu-img convert to raw, nothing changed. */
export function plainCopy(vmdk: string, dir: string): string {
  const raw = join(dir, "plain.raw");
  execFileSync("qemu-img", ["convert", "-q", "-f", "vmdk", "-O", "raw", vmdk, raw]);
  return raw;
}

export interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
  uuid?: string;
}
export function partitions(raw: string): { label: string; partitions: SfdiskPartition[] } {
  const j = JSON.parse(execFileSync("sfdisk", ["-J", raw], { encoding: "utf8" })) as { partitiontable: { label: string; partitions: SfdiskPartition[] } };
  return j.partitiontable;
}

/** A file of the ext4 filesystem at `offset` bytes into a raw image, read with debugfs; null when absent. */
export function ext4File(raw: string, offset: number, path: string): Buffer | null {
  const r = spawnSync("debugfs", ["-R", `cat ${path}`, `${raw}?offset=${offset}`], { maxBuffer: 512 * 1024 ** 2 });
  if (r.status !== 0 || /not found|File not found/i.test(r.stderr.toString())) return null;
  return r.stdout;
}

/** debugfs `ls` of a folder: the names in it (without . and ..), or null when absent. */
export function ext4Ls(raw: string, offset: number, path: string): string[] | null {
  const r = spawnSync("debugfs", ["-R", `ls -p ${path}`, `${raw}?offset=${offset}`], { encoding: "utf8" });
  if (r.status !== 0 || /not found/i.test(r.stderr)) return null;
  return r.stdout
    .split("\n")
    .map((l) => l.split("/")[5])
    .filter((n): n is string => !!n && n !== "." && n !== "..");
}

export interface GuestRead {
  /** File contents (Latin-1), null when absent. */
  files: Record<string, string | null>;
  /** Folder listings, null when absent. */
  ls: Record<string, string[] | null>;
  /** vfs-type per device. */
  vfs: Record<string, string>;
  lvs: string[];
  pvs: Array<{ name: string; uuid: string }>;
}

const READER = String.raw`
import json, sys, guestfs
spec = json.load(sys.stdin)
g = guestfs.GuestFS(python_return_dict=True)
g.add_drive_opts(spec["disk"], format="raw", readonly=True)
g.launch()
out = {"files": {}, "ls": {}, "vfs": {}, "lvs": g.lvs(), "pvs": [{"name": p["pv_name"], "uuid": p["pv_uuid"]} for p in g.pvs_full()]}
for dev in spec["vfs"]:
    try: out["vfs"][dev] = g.vfs_type(dev)
    except RuntimeError: out["vfs"][dev] = ""
for dev, mp in spec["mounts"]:
    g.mount_ro(dev, mp)
for p in spec["files"]:
    out["files"][p] = g.read_file(p).decode("latin-1") if g.is_file(p) else None
for d in spec["ls"]:
    out["ls"][d] = sorted(g.ls(d)) if g.is_dir(d) else None
g.umount_all()
g.shutdown()
print(json.dumps(out))
`;

/** One read-only libguestfs session: mount, read files, list folders, LVM and filesystem types. */
export async function guestRead(raw: string, spec: { mounts: Array<[string, string]>; files: string[]; ls: string[]; vfs: string[] }): Promise<GuestRead> {
  const env = libguestfsEnv(await probeAccel());
  const out = execFileSync("/usr/bin/python3", ["-c", READER], { input: JSON.stringify({ disk: raw, ...spec }), env, encoding: "utf8", maxBuffer: 64 * 1024 ** 2, timeout: 10 * 60_000 });
  return JSON.parse(out) as GuestRead;
}

/** Installed Debian packages, from a dpkg status file's text. */
export function installedPackages(status: string): Set<string> {
  const names = new Set<string>();
  for (const para of status.split(/\n\n+/)) {
    const name = /^Package: (\S+)/m.exec(para)?.[1];
    if (name && /^Status: install ok installed$/m.test(para)) names.add(name);
  }
  return names;
}

/** The three NICs as ESXi lays them out, as [virtualDev, pciSlotNumber, addressType]; and their MACs. */
export function esxiNics(vmx: string): { nics: Array<Array<string | null>>; macs: string[] } {
  return {
    nics: [0, 1, 2].map((i) => [vmxValue(vmx, `ethernet${i}.virtualDev`), vmxValue(vmx, `ethernet${i}.pciSlotNumber`), vmxValue(vmx, `ethernet${i}.addressType`)]),
    macs: vmxMacs(vmx),
  };
}
export const ESXI_NICS = [
  ["vmxnet3", "192", "generated"],
  ["e1000e", "224", "generated"],
  ["vmxnet3", "256", "generated"],
];

/** The ferry-nic-report lines on a console, by interface. */
export function nicReport(consoleText: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of consoleText.matchAll(/^ferry-nic: (ens\d+) (.*)$/gm)) out[m[1]!] = m[2]!.trim();
  return out;
}
