import { existsSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "../errors";

/**
 * Which OVMF files boot a UEFI guest, in one place. Debian's ovmf package
 * ships them in /usr/share/OVMF: the 4 MiB builds (OVMF_CODE_4M.fd with
 * OVMF_VARS_4M.fd), and for Secure Boot the SMM build OVMF_CODE_4M.secboot.fd
 * (OVMF_CODE_4M.ms.fd is a link to it) with OVMF_VARS_4M.ms.fd, whose
 * variables have Microsoft's keys enrolled and Secure Boot on. The Secure
 * Boot build only runs with SMM and a flash that only SMM code may write.
 * Older layouts with the 2 MiB files (OVMF_CODE.fd, OVMF_VARS.fd) are used
 * when the 4 MiB ones are absent; a code file is only paired with a
 * variables file of its own size.
 */

export interface OvmfFirmware {
  /** The firmware code, mapped read-only. */
  code: string;
  /** The variables template: copy it per guest, never boot it in place. */
  varsTemplate: string;
  secureBoot: boolean;
  /** Properties for -machine (q35,...). */
  machineOptions: string[];
  /** Further qemu arguments the firmware needs. */
  args: string[];
}

export const OVMF_DIR = "/usr/share/OVMF";

const PAIRS = {
  plain: [
    ["OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"],
    ["OVMF_CODE.fd", "OVMF_VARS.fd"],
  ],
  secure: [
    ["OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd"],
    ["OVMF_CODE_4M.ms.fd", "OVMF_VARS_4M.ms.fd"],
    ["OVMF_CODE.secboot.fd", "OVMF_VARS.ms.fd"],
  ],
} as const;

/** A code file and its variables template, with what qemu needs to run them. */
export function ovmfPair(code: string, varsTemplate: string, secureBoot: boolean): OvmfFirmware {
  return {
    code,
    varsTemplate,
    secureBoot,
    machineOptions: secureBoot ? ["smm=on"] : [],
    args: secureBoot ? ["-global", "driver=cfi.pflash01,property=secure,value=on"] : [],
  };
}

export function ovmfFirmware(secureBoot: boolean, dir = OVMF_DIR): OvmfFirmware {
  const pairs = PAIRS[secureBoot ? "secure" : "plain"];
  for (const [code, vars] of pairs) {
    if (existsSync(join(dir, code)) && existsSync(join(dir, vars))) return ovmfPair(join(dir, code), join(dir, vars), secureBoot);
  }
  const [code, vars] = pairs[0];
  const missing = [code, vars].map((f) => join(dir, f)).filter((p) => !existsSync(p));
  throw new FerryError({
    code: "boot-check.no-ovmf",
    message: `the guest boots with UEFI${secureBoot ? " and Secure Boot" : ""} and this host has no OVMF firmware for it: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} missing`,
    file: missing[0] ?? null,
    hint: "apt-get install ovmf (Debian's OVMF package), or skip the check with --no-boot-check",
  });
}
