import { isAbsolute, posix } from "node:path";
import { FerryError } from "../errors";
import { isInside } from "../host-fs";
import type { Input } from "../input/input";
import { localInput } from "../input/local";
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

export async function shareRoot(share: Share, input: Input = localInput): Promise<string> {
  try {
    return await input.realpath(share.path);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError({ code: "share.unavailable", message: `share "${share.name}" is not available`, file: input.label(share.path), hint: "check that the NAS share is mounted (for an ssh share: that its path exists on the server)" });
  }
}

export async function resolveInShare(share: Share, relPath: string, input: Input = localInput): Promise<SharePath> {
  if (relPath.includes("\0")) throw refuse("share.path.nul", relPath.replace(/\0/g, "\\0"), "contains a NUL byte");
  if (relPath.startsWith("/") || isAbsolute(relPath)) throw refuse("share.path.absolute", relPath, "is absolute");
  const parts = relPath.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw refuse("share.path.parent", relPath, "climbs out with ..");
  const root = await shareRoot(share, input);
  const target = posix.join(root, ...parts);
  let real: string;
  try {
    real = await input.realpath(target);
    // OpenSSH's realpath accepts a missing last component: ask for the file itself too.
    await input.lstat(real);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw new FerryError({ code: "share.path.missing", message: `"${relPath}" does not exist in share "${share.name}"`, file: null, hint: "it may have been moved or deleted; browse again" });
  }
  if (!isInside(root, real)) throw refuse("share.path.outside", relPath, "leads outside the share (a symbolic link)");
  return { abs: real, rel: posix.relative(root, real) };
}
