import { FerryError } from "../errors";
import { freeBytesOrNull } from "../host-fs";
import { poolFolder, poolFreeBytes, probeLibvirt } from "../libvirt/host";
import type { LibvirtTarget, OutputMode } from "../plan";
import type { OutputTarget } from "../shares/config";

/**
 * The admin's configured output targets (a folder, or a libvirt pool) for
 * the server: what a job writes with, and what the Target step shows. The
 * one place a target's kind is looked at.
 */

/** What planTarget needs to know of where a job writes. */
export interface Destination {
  output: OutputMode;
  outputDir: string;
  libvirt?: LibvirtTarget;
}

export interface TargetStatus {
  name: string;
  kind: "folder" | "libvirt";
  /** The folder, or `POOL on URI`. */
  where: string;
  freeBytes: number | null;
  /** Why the free space is unknown (libvirt unreachable, pool missing). */
  error: string | null;
}

/** A job's destination: folders take the -o mode asked for; a libvirt target is -o libvirt. */
export async function resolveDestination(target: OutputTarget, mode: OutputMode): Promise<Destination> {
  if (target.kind === "libvirt") {
    const libvirt = await probeLibvirt(target.uri, target.pool);
    return { output: "libvirt", outputDir: libvirt.poolPath, libvirt };
  }
  if (mode === "libvirt") {
    throw new FerryError({ code: "output.not-libvirt", message: `the output target "${target.name}" is a folder (${target.path}); -o libvirt needs a target of kind libvirt`, file: null, hint: "choose a libvirt target, or local, qemu or json for this folder" });
  }
  return { output: mode, outputDir: target.path };
}

export async function targetStatus(target: OutputTarget): Promise<TargetStatus> {
  if (target.kind === "libvirt") {
    const where = `pool ${target.pool} on ${target.uri}`;
    try {
      // The space Ferry's own check counts (what a writer without root's reserve may use) when the pool's folder is here;
      // libvirt's Available also counts the blocks reserved for root.
      const folder = await poolFolder(target.uri, target.pool, { timeoutMs: 10_000 });
      const free = (folder ? freeBytesOrNull(folder) : null) ?? (await poolFreeBytes(target.uri, target.pool, { timeoutMs: 10_000 }));
      return { name: target.name, kind: "libvirt", where, freeBytes: free, error: null };
    } catch (e) {
      return { name: target.name, kind: "libvirt", where, freeBytes: null, error: e instanceof FerryError ? e.message : (e as Error).message.trim() };
    }
  }
  return { name: target.name, kind: "folder", where: target.path, freeBytes: freeBytesOrNull(target.path), error: null };
}

/** Folders the server makes at start (libvirt pools are the admin's to make). */
export function targetFolders(targets: OutputTarget[]): string[] {
  return targets.flatMap((t) => (t.kind === "libvirt" ? [] : [t.path]));
}
