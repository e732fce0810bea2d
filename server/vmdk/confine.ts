import { posix } from "node:path";
import { FerryError } from "../errors";
import { isInside } from "../host-fs";
import type { FileStat, Input } from "../input/input";
import { localInput } from "../input/local";

/**
 * Where a disk's files may live. A share is untrusted: a descriptor can name
 * any host file (CVE-2022-47951) or a network block device, so every name is
 * checked as text, then resolved with realpath and kept inside the roots.
 */
export interface Confinement {
  /** Where the files are read from (this host, or an SSH server). */
  input: Input;
  /** Folders disk files may be in (realpaths): the guest's folder and mapped datastores. */
  roots: string[];
  /** ESXi paths mapped to local folders: `/vmfs/volumes/datastore1` → `/nas/ds1`. */
  datastores: { prefix: string; path: string }[];
}

export async function confinement(guestDir: string, datastores: Confinement["datastores"] = [], input: Input = localInput): Promise<Confinement> {
  const real = async (p: string) => {
    try {
      return await input.realpath(p);
    } catch {
      return posix.resolve(p);
    }
  };
  return {
    input,
    roots: [await real(guestDir), ...(await Promise.all(datastores.map((d) => real(d.path))))],
    datastores: datastores.map((d) => ({ prefix: d.prefix.replace(/\/+$/, ""), path: d.path })),
  };
}

/** An ESXi path (`/vmfs/volumes/DS/...`) on the mapped local folder; other paths unchanged. */
export function mapDatastorePath(p: string, datastores: Confinement["datastores"]): string {
  const ds = datastores.find((d) => p === d.prefix || p.startsWith(d.prefix + "/"));
  return ds ? posix.join(ds.path, p.slice(ds.prefix.length)) : posix.normalize(p);
}

export interface Where {
  /** The file that names this one (a descriptor), for errors. */
  file: string;
  line?: number | null;
}

const PROTOCOL = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Text-only checks, before anything touches the file system. */
export function checkName(name: string, where: Where, what: string): void {
  const refuse = (code: string, why: string) => {
    throw new FerryError({ code, message: `${what} "${name}" ${why}`, file: where.file, line: where.line ?? null, hint: "Ferry reads only files inside the guest's folder (or a mapped datastore); fix or remove this reference" });
  };
  if (name === "") refuse("vmdk.path.empty", "is empty");
  if (name.includes("\0")) refuse("vmdk.path.nul", "contains a NUL byte");
  if (PROTOCOL.test(name)) refuse("vmdk.path.protocol", "is a protocol or drive name, not a file in the guest's folder");
  if (name.split(/[\\/]/).includes("..")) refuse("vmdk.path.parent", "climbs out of its folder with ..");
}

export interface ConfinedFile {
  /** realpath */
  path: string;
  stat: FileStat;
}

/** Resolve a name from a descriptor (relative to `baseDir`) to a regular file inside the roots. */
export async function resolveConfined(name: string, baseDir: string, c: Confinement, where: Where, what: string): Promise<ConfinedFile> {
  checkName(name, where, what);
  const target = name.startsWith("/") ? mapDatastorePath(name, c.datastores) : posix.join(baseDir, name);
  let real: string;
  let stat: FileStat;
  try {
    real = await c.input.realpath(target);
    stat = await c.input.stat(real);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FerryError({
      code: code === "ENOENT" || code === "ENOTDIR" ? "vmdk.missing" : "vmdk.unreadable",
      message: `${what} "${name}" ${code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be read (${code})`}`,
      file: where.file,
      line: where.line ?? null,
      hint: name.startsWith("/vmfs/") ? "map the datastore to the folder that holds it on the NAS" : "copy the missing file into the guest's folder",
    });
  }
  if (!c.roots.some((r) => isInside(r, real))) {
    throw new FerryError({
      code: "vmdk.path.outside",
      message: `${what} "${name}" ${real !== posix.resolve(target) ? "is a symbolic link that leads" : "lies"} outside the guest's folder (${real})`,
      file: where.file,
      line: where.line ?? null,
      hint: "Ferry reads only files inside the guest's folder or a mapped datastore",
    });
  }
  if (stat.type !== "file") {
    const kind = stat.type === "fifo" ? "a FIFO" : stat.type === "folder" ? "a folder" : stat.type === "device" ? "a device" : "not a regular file";
    throw new FerryError({ code: "vmdk.path.not-file", message: `${what} "${name}" is ${kind}, not a regular file`, file: where.file, line: where.line ?? null, hint: "disk files must be regular files" });
  }
  return { path: real, stat };
}
