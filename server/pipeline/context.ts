import { statSync } from "node:fs";
import type { Appliance, Converter } from "../convert";
import type { ConversionReport, GuestInspection } from "../convert/guest";
import { FerryError } from "../errors";
import type { Output } from "../output";
import type { TargetPlan } from "../plan";
import type { PipelineEvent } from "./events";

/** What the stages share while a run lasts. */

export interface RunOptions {
  emit: (e: PipelineEvent) => void;
  signal?: AbortSignal;
  /** Where overlays live while the run lasts (default: the system's temporary folder). */
  overlayDir?: string;
  /** A copy that makes no progress for this long fails (default 5 minutes). */
  stallMs?: number;
  /** Boot check time limit (default: 3 minutes with KVM, 10 under TCG). */
  bootTimeoutMs?: number;
  /** Log every libguestfs call and the boot check's console (-v). */
  verbose?: boolean;
}

/** What a source file looked like when the run opened it. */
export interface FileState {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface Context {
  plan: TargetPlan;
  options: RunOptions;
  /** Aborted on cancel and on failure: stops qemu-img, the appliance and the boot check. */
  signal: AbortSignal;
  abort: () => void;
  /** Seconds since the run started. */
  t: () => number;
  emit: (e: PipelineEvent) => void;
  log: (message: string) => void;
  warn: (code: string, message: string) => void;
  sources: Map<string, FileState>;
  overlayRoot: string | null;
  overlays: string[];
  output: Output | null;
  appliance: Appliance | null;
  guest: GuestInspection | null;
  converter: Converter | null;
  conversion: ConversionReport | null;
}

/** A named stage, as virt-v2v prints them; "skipped" when it has nothing to do for this plan. */
export interface Stage {
  name: string;
  run: (ctx: Context) => Promise<string | void> | string | void;
}

export function fileState(path: string): FileState | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch {
    return null;
  }
}

/**
 * qemu-img reads a truncated or rewritten source without complaint (past the
 * end it reads zeros), so every source file is compared with its state at
 * the start, after each copy and before anything is committed.
 */
export function checkSourcesUnchanged(ctx: Pick<Context, "sources">): void {
  for (const [path, before] of ctx.sources) {
    const now = fileState(path);
    if (!now) {
      throw new FerryError({ code: "source.vanished", message: "a source file disappeared or became unreadable during the copy", file: path, hint: "check the NAS share; then retry. The partial copy was removed." });
    }
    if (now.size !== before.size || now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) {
      throw new FerryError({ code: "source.changed", message: `a source file changed during the copy (size ${before.size} → ${now.size} bytes); the copy cannot be trusted`, file: path, hint: "make sure the guest is shut down on VMware and nothing writes to its folder; then retry" });
    }
  }
}
