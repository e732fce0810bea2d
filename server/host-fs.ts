import { statfsSync } from "node:fs";
import { isAbsolute, relative } from "node:path";

/** Small facts about the host's file system that several modules need. */

/** Whether `path` is `root` or below it (both already resolved with realpath). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** Bytes an unprivileged writer can still put on the file system holding `path`. */
export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** freeBytes, or null when the folder is missing or unreadable. */
export function freeBytesOrNull(path: string): number | null {
  try {
    return freeBytes(path);
  } catch {
    return null;
  }
}
