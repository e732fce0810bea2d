import type { Appliance, Converter } from "../convert";
import type { ConversionReport, GuestInspection } from "../convert/guest";
import { FerryError } from "../errors";
import type { FileStat, Input } from "../input/input";
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
  /** Where the source files are read from (default: this host). */
  input?: Input;
}

/** What a source file looked like when the run opened it. */
export interface FileState {
  size: number;
  mtimeMs: number;
  /** `dev:ino` where the input knows it. */
  id: string | null;
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
  /** Where the source is read from. */
  input: Input;
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

export async function fileState(input: Input, path: string): Promise<FileState | null> {
  let s: FileStat;
  try {
    s = await input.stat(path);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    return null;
  }
  return { size: s.size, mtimeMs: s.mtimeMs, id: s.id };
}

/**
 * qemu-img reads a truncated or rewritten source without complaint (past the
 * end it reads zeros), so every source file is compared with its state at
 * the start, after each copy and before anything is committed.
 */
export async function checkSourcesUnchanged(ctx: Pick<Context, "sources" | "input">): Promise<void> {
  for (const [path, before] of ctx.sources) {
    const now = await fileState(ctx.input, path);
    if (!now) {
      throw new FerryError({ code: "source.vanished", message: "a source file disappeared or became unreadable during the copy", file: path, hint: "check the NAS share; then retry. The partial copy was removed." });
    }
    if (now.size !== before.size || now.mtimeMs !== before.mtimeMs || now.id !== before.id) {
      throw new FerryError({ code: "source.changed", message: `a source file changed during the copy (size ${before.size} → ${now.size} bytes); the copy cannot be trusted`, file: path, hint: "make sure the guest is shut down on VMware and nothing writes to its folder; then retry" });
    }
  }
}
