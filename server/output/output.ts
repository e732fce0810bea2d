import { chmodSync, closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConversionReport } from "../convert/guest";
import { FerryError } from "../errors";
import type { OutputMode, TargetPlan } from "../plan";
import { ovmfFirmware, ovmfPair, type OvmfFirmware } from "../qemu/ovmf";
import { withBootEntries } from "../qemu/ovmf-vars";
import type { ResultFile } from "../pipeline/events";
import { jsonMetadata } from "./json-output";
import { libvirtXml } from "./libvirt-xml";
import { qemuScript } from "./qemu-script";

/**
 * An output mode: where the disks go and what metadata describes them. Every
 * mode stages its files in a hidden folder inside the output folder and
 * renames them into place only when all are complete and fsync'ed, so a
 * failed or cancelled run leaves nothing behind.
 */
export interface Output {
  /** Paths the copy writes to (staged, in plan order). */
  readonly stagedDisks: string[];
  /** Where the disks end up (in plan order). */
  readonly finalDisks: string[];
  /** Write the metadata (and, for UEFI guests, their firmware variables) from the plan and what the conversion did. */
  writeMetadata(conversion?: ConversionReport | null): void;
  /**
   * A staged path for a file that goes next to the outputs (the boot
   * check's console log and screenshot), committed with them when it exists.
   */
  stageFile(name: string, kind: "console" | "screenshot"): string;
  /** UEFI: the staged per-guest variables file, once writeMetadata wrote it (the boot check boots with it). */
  readonly stagedUefiVars: string | null;
  /** fsync, rename into place, fsync the folder (and, for libvirt, define the domain). Returns what was written. */
  commit(report?: CommitReport): ResultFile[] | Promise<ResultFile[]>;
  /** Remove everything staged. Safe to call twice. */
  abort(): void | Promise<void>;
}

/** A libvirt domain an output defined (and maybe started). */
export interface DefinedDomain {
  uri: string;
  name: string;
  uuid: string | null;
  pool: string;
  volumes: string[];
  /** virsh domstate after the define (and the start). */
  state: string;
  started: boolean;
}

/** What a commit tells beyond its files. */
export interface CommitReport {
  log: (message: string) => void;
  warn: (code: string, message: string) => void;
  domain: (d: DefinedDomain) => void;
}

/** A staged file-based output, as the folder kinds and the libvirt kind (which writes into its pool's folder) use it. */
export interface FileOutput extends Output {
  /** The metadata as staged (libvirt defines the domain from it). */
  readonly stagedMetadata: string;
  commit(): ResultFile[];
  abort(): void;
}

/** Files beside the disks that the metadata names. */
export interface MetadataFiles {
  /** UEFI: the guest's own OVMF variables (with its boot entry), and the firmware they go with. */
  uefi: { vars: string; firmware: OvmfFirmware } | null;
}

interface Mode {
  /** The metadata file's name. */
  file: (plan: TargetPlan) => string;
  /** Its content, given the final disk paths. */
  content: (plan: TargetPlan, disks: string[], files: MetadataFiles) => string;
  executable?: boolean;
  /** false: the metadata is consumed from the staging folder (libvirt defines it), not kept beside the disks. */
  keep?: boolean;
}

const MODES: Record<OutputMode, Mode> = {
  local: { file: (p) => `${p.name}.xml`, content: libvirtXml },
  qemu: { file: (p) => `${p.name}.sh`, content: qemuScript, executable: true },
  json: { file: (p) => `${p.name}.json`, content: jsonMetadata },
  libvirt: { file: (p) => `${p.name}.xml`, content: libvirtXml, keep: false },
};

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The files a plan ends with (disks, then metadata), for cleanup after a crash. */
export function plannedOutputs(plan: TargetPlan): string[] {
  return [
    ...plan.disks.map((d) => join(plan.output.dir, d.targetName)),
    ...(MODES[plan.output.mode].keep === false ? [] : [join(plan.output.dir, MODES[plan.output.mode].file(plan))]),
    ...[uefiVarsFile(plan)].filter((f): f is string => f !== null).map((f) => join(plan.output.dir, f)),
    ...(plan.bootCheck ? Object.values(bootCheckFiles(plan)).map((f) => join(plan.output.dir, f)) : []),
  ];
}

/** A UEFI guest's own firmware variables, beside its disks (libvirt's NAME_VARS.fd). */
export function uefiVarsFile(plan: Pick<TargetPlan, "name" | "firmware">): string | null {
  return plan.firmware === "uefi" ? `${plan.name}_VARS.fd` : null;
}

/**
 * The variables a UEFI guest boots with on KVM: OVMF's template (with
 * Microsoft's keys for Secure Boot guests) plus the guest's own boot entry
 * when the conversion found it, so the firmware boots the loader VMware did.
 */
export function uefiVars(plan: TargetPlan, conversion: ConversionReport | null | undefined): { firmware: OvmfFirmware; bytes: Buffer; entry: string | null } {
  const firmware = guestFirmware(plan);
  const template = readFileSync(firmware.varsTemplate);
  const e = conversion?.family === "linux" ? conversion.uefi?.bootEntry : null;
  if (!e) return { firmware, bytes: template, entry: null };
  return { firmware, bytes: withBootEntries(template, [{ description: e.description, path: e.path, partition: e.partition }]), entry: `${e.description} → ${e.path}` };
}

/**
 * The firmware a UEFI guest gets: for -o libvirt the one the target host's
 * firmware descriptors name (probeLibvirt put it in the plan), else
 * Debian's OVMF files on this host.
 */
export function guestFirmware(plan: Pick<TargetPlan, "secureBoot" | "output">): OvmfFirmware {
  const host = plan.output.libvirt;
  if (!host) return ovmfFirmware(plan.secureBoot);
  const f = plan.secureBoot ? host.firmware.secure : host.firmware.plain;
  if (!f) {
    throw new FerryError({
      code: "libvirt.no-firmware",
      message: `the guest boots with UEFI${plan.secureBoot ? " and Secure Boot" : ""} and the libvirt host at ${host.uri} describes no such firmware for ${host.machine} (no matching file in /usr/share/qemu/firmware or /etc/qemu/firmware)`,
      file: null,
      hint: plan.secureBoot ? "apt-get install ovmf on that host (its 40-edk2-x86_64-secure-enrolled.json has Secure Boot with Microsoft's keys)" : "apt-get install ovmf on that host",
    });
  }
  return ovmfPair(f.code, f.varsTemplate, plan.secureBoot);
}

/** The boot check's files, named after the guest. */
export function bootCheckFiles(plan: Pick<TargetPlan, "name">): { console: string; screenshot: string } {
  return { console: `${plan.name}-console.log`, screenshot: `${plan.name}-screen.png` };
}

export function openOutput(plan: TargetPlan): FileOutput {
  const mode = MODES[plan.output.mode];
  const dir = plan.output.dir;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new FerryError({ code: "output.no-dir", message: "the output folder does not exist", file: dir, hint: "create it first (-os names an existing folder)" });
  }
  const finalDisks = plan.disks.map((d) => join(dir, d.targetName));
  const metadata = join(dir, mode.file(plan));
  const bootFiles = plan.bootCheck ? Object.values(bootCheckFiles(plan)).map((f) => join(dir, f)) : [];
  const varsName = uefiVarsFile(plan);
  const varsFinal = varsName ? join(dir, varsName) : null;
  const clashes = [...finalDisks, ...(mode.keep === false ? [] : [metadata]), ...bootFiles, ...(varsFinal ? [varsFinal] : [])].filter((p) => existsSync(p));
  if (clashes.length && !plan.overwrite) {
    throw new FerryError({ code: "output.exists", message: `would overwrite ${clashes.join(", ")}`, file: clashes[0]!, hint: "choose another name (-on) or folder (-os), remove the old files, or pass --overwrite" });
  }
  let staging: string | null = mkdtempSync(join(dir, `.ferry-${plan.name}-`));
  // Runtime paths from the admin's configuration: nothing for the bundler to trace.
  const stagedDisks = plan.disks.map((d) => join(/*turbopackIgnore: true*/ staging!, d.targetName));
  const stagedMetadata = join(/*turbopackIgnore: true*/ staging, mode.file(plan));
  const extras: Array<{ name: string; kind: ResultFile["kind"] }> = [];
  let stagedVars: string | null = null;
  return {
    stagedDisks,
    finalDisks,
    stagedMetadata,
    get stagedUefiVars() {
      return stagedVars;
    },
    writeMetadata(conversion) {
      let files: MetadataFiles = { uefi: null };
      if (varsName && varsFinal) {
        const v = uefiVars(plan, conversion);
        stagedVars = join(/*turbopackIgnore: true*/ staging!, varsName);
        writeFileSync(stagedVars, v.bytes, { mode: 0o644 });
        extras.push({ name: varsName, kind: "nvram" });
        files = { uefi: { vars: varsFinal, firmware: v.firmware } };
      }
      writeFileSync(stagedMetadata, mode.content(plan, finalDisks, files), { mode: mode.executable ? 0o755 : 0o644 });
      if (mode.executable) chmodSync(stagedMetadata, 0o755);
    },
    stageFile(name, kind) {
      if (!staging) throw new FerryError({ code: "output.closed", message: "the output was already committed or aborted", file: dir, hint: null });
      extras.push({ name, kind });
      return join(/*turbopackIgnore: true*/ staging, name);
    },
    commit() {
      if (!staging) throw new FerryError({ code: "output.closed", message: "the output was already committed or aborted", file: dir, hint: null });
      const files: ResultFile[] = [];
      for (const p of [...stagedDisks, stagedMetadata]) fsyncPath(p);
      stagedDisks.forEach((p, i) => {
        files.push({ path: finalDisks[i]!, kind: "disk", bytes: statSync(p).size });
        renameSync(p, finalDisks[i]!);
      });
      if (mode.keep !== false) {
        files.push({ path: metadata, kind: "metadata", bytes: statSync(stagedMetadata).size });
        renameSync(stagedMetadata, metadata);
      }
      for (const x of extras) {
        const from = join(/*turbopackIgnore: true*/ staging, x.name);
        if (!existsSync(from)) continue;
        fsyncPath(from);
        const to = join(dir, x.name);
        files.push({ path: to, kind: x.kind, bytes: statSync(from).size });
        renameSync(from, to);
      }
      rmSync(staging, { recursive: true, force: true });
      staging = null;
      fsyncPath(dir);
      return files;
    },
    abort() {
      if (staging) rmSync(staging, { recursive: true, force: true });
      staging = null;
    },
  };
}

