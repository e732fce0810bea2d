import { FerryError } from "../errors";
import { QUERY_LIMITS, runQemuImg } from "./qemu-img";

/** What qemu-img this host has, and whether Ferry can work with it. */
export interface QemuImgCheck {
  version: string;
  formats: string[];
}

/** `qemu-img --version` first line → "7.2.22". */
export function parseVersion(text: string): string | null {
  return /qemu-img version (\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? null;
}

/** `qemu-img --help` → the block drivers after "Supported formats:". */
export function parseFormats(help: string): string[] {
  const m = /Supported formats:([^\n]*)/.exec(help);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** Verify the block drivers Ferry needs; throws a FerryError that says what to install. */
export function requireDrivers(check: QemuImgCheck): QemuImgCheck {
  const missing = ["vmdk", "raw", "qcow2", "file"].filter((f) => !check.formats.includes(f));
  if (missing.length) {
    throw new FerryError({ code: "qemu.drivers", message: `qemu-img ${check.version} lacks the block drivers ${missing.join(", ")}`, file: null, hint: "install Debian's qemu-utils, which has them" });
  }
  return check;
}

export async function qemuImgSelfCheck(): Promise<QemuImgCheck> {
  const { stdout: v } = await runQemuImg(["--version"], { limits: QUERY_LIMITS });
  const { stdout: help } = await runQemuImg(["--help"], { limits: QUERY_LIMITS });
  const version = parseVersion(v);
  if (!version) throw new FerryError({ code: "qemu.version", message: "could not read the qemu-img version", file: null, hint: "install Debian's qemu-utils" });
  return requireDrivers({ version, formats: parseFormats(help) });
}
