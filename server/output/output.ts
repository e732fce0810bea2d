import { chmodSync, closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConversionReport } from "../convert/guest";
import { FerryError } from "../errors";
import type { OutputMode, TargetPlan } from "../plan";
import { ovmfFirmware, type OvmfFirmware } from "../qemu/ovmf";
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
  /** fsync, rename into place, fsync the folder. Returns what was written. */
  commit(): ResultFile[];
  /** Remove everything staged. Safe to call twice. */
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
}

const MODES: Record<OutputMode, Mode> = {
  local: { file: (p) => `${p.name}.xml`, content: libvirtXml },
  qemu: { file: (p) => `${p.name}.sh`, content: qemuScript, executable: true },
  json: { file: (p) => `${p.name}.json`, content: jsonMetadata },
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
    join(plan.output.dir, MODES[plan.output.mode].file(plan)),
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
  const firmware = ovmfFirmware(plan.secureBoot);
  const template = readFileSync(firmware.varsTemplate);
  const e = conversion?.family === "linux" ? conversion.uefi?.bootEntry : null;
  if (!e) return { firmware, bytes: template, entry: null };
  return { firmware, bytes: withBootEntries(template, [{ description: e.description, path: e.path, partition: e.partition }]), entry: `${e.description} → ${e.path}` };
}

/** The boot check's files, named after the guest. */
export function bootCheckFiles(plan: Pick<TargetPlan, "name">): { console: string; screenshot: string } {
  return { console: `${plan.name}-console.log`, screenshot: `${plan.name}-screen.png` };
}

export function openOutput(plan: TargetPlan): Output {
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
  const clashes = [...finalDisks, metadata, ...bootFiles, ...(varsFinal ? [varsFinal] : [])].filter((p) => existsSync(p));
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
      files.push({ path: metadata, kind: "metadata", bytes: statSync(stagedMetadata).size });
      renameSync(stagedMetadata, metadata);
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

