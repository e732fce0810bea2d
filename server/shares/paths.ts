import { realpathSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { FerryError } from "../errors";
import { isInside } from "../host-fs";
import type { Share } from "./config";

/**
 * Paths inside a share. Clients send `{share, relPath}` only; every path is
 * checked as text, resolved with realpath, and must stay inside the share.
 */
export interface SharePath {
  /** Absolute real path on this host. */
  abs: string;
  /** Normalised path relative to the share root ("" for the root). */
  rel: string;
}

function refuse(code: string, relPath: string, why: string): FerryError {
  return new FerryError({ code, message: `"${relPath}" ${why}`, file: null, hint: "paths are relative to the share and stay inside it" });
}

export function shareRoot(share: Share): string {
  try {
    return realpathSync(share.path);
  } catch {
    throw new FerryError({ code: "share.unavailable", message: `share "${share.name}" is not available`, file: share.path, hint: "check that the NAS share is mounted" });
  }
}

export function resolveInShare(share: Share, relPath: string): SharePath {
  if (relPath.includes("\0")) throw refuse("share.path.nul", relPath.replace(/\0/g, "\\0"), "contains a NUL byte");
  if (relPath.startsWith("/") || isAbsolute(relPath)) throw refuse("share.path.absolute", relPath, "is absolute");
  const parts = relPath.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw refuse("share.path.parent", relPath, "climbs out with ..");
  const root = shareRoot(share);
  const target = join(/*turbopackIgnore: true*/ root, ...parts);
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    throw new FerryError({ code: "share.path.missing", message: `"${relPath}" does not exist in share "${share.name}"`, file: null, hint: "it may have been moved or deleted; browse again" });
  }
  if (!isInside(root, real)) throw refuse("share.path.outside", relPath, "leads outside the share (a symbolic link)");
  return { abs: real, rel: relative(root, real) };
}
