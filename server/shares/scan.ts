import { posix } from "node:path";
import { z } from "zod";
import { FerryError } from "../errors";
import type { DirEntry, Input } from "../input/input";
import { localInput } from "../input/local";
import { readVmxBytes } from "../input/vmx-file";
import { readVmx } from "../vmx";
import type { Share } from "./config";
import { resolveInShare } from "./paths";

/**
 * Find every guest below a folder of a share, streaming results as they are
 * found. Bounded (depth, folders), never follows symbolic links (no loops,
 * no escapes), skips NAS snapshot and recycle folders, and notes unreadable
 * folders instead of failing.
 */

export const FoundVm = z.object({
  /** The .vmx, relative to the share root. */
  relPath: z.string(),
  name: z.string(),
  guestOS: z.string().nullable(),
  family: z.enum(["linux", "windows", "other", "unknown"]),
  diskCount: z.number().int().nonnegative(),
  /** Bytes of .vmdk files in the guest's folder. */
  totalBytes: z.number().int().nonnegative(),
  /** VMware lock files beside it: the guest may be running. */
  inUse: z.boolean(),
  criticalConcerns: z.number().int().nonnegative(),
  /** Why the VMX could not be read, when it could not. */
  error: z.string().nullable(),
});
export type FoundVm = z.infer<typeof FoundVm>;

export const ScanItem = z.discriminatedUnion("type", [
  z.object({ type: z.literal("vm"), vm: FoundVm }),
  z.object({ type: z.literal("note"), path: z.string(), message: z.string() }),
  z.object({ type: z.literal("done"), folders: z.number().int(), vms: z.number().int(), truncated: z.boolean(), ms: z.number() }),
]);
export type ScanItem = z.infer<typeof ScanItem>;

/** Folders NAS appliances keep beside the data: snapshots, recycle bins, indexes. */
const SKIP = new Set([".snapshot", ".snapshots", ".zfs", "@eaDir", "#recycle", "#snapshot", ".ckpt", "lost+found", "$RECYCLE.BIN", ".Trash-0", ".@__thumb"]);

export interface ScanOptions {
  maxDepth?: number;
  maxFolders?: number;
  signal?: AbortSignal;
  /** Where the share's files are (default: this host). */
  input?: Input;
}

async function describeVm(input: Input, root: string, dir: string, vmxName: string, siblings: DirEntry[]): Promise<FoundVm> {
  const path = posix.join(dir, vmxName);
  const relPath = posix.relative(root, path);
  const base: Omit<FoundVm, "name" | "guestOS" | "family" | "diskCount" | "criticalConcerns" | "error"> = {
    relPath,
    totalBytes: 0,
    inUse: siblings.some((d) => d.name.endsWith(".lck") || d.name.startsWith(".lck-")),
  };
  for (const d of siblings) {
    if (d.type === "file" && /\.vmdk$/i.test(d.name)) {
      try {
        base.totalBytes += d.size ?? (await input.lstat(posix.join(dir, d.name))).size;
      } catch (e) {
        if (e instanceof FerryError) throw e;
        /* vanished while scanning */
      }
    }
  }
  try {
    const r = readVmx(await readVmxBytes(path, { noFollow: true }, input), { vmxPath: path });
    if (!r.ok) throw r.error;
    return { ...base, name: r.vm.name, guestOS: r.vm.guestOS.id, family: r.vm.guestOS.family, diskCount: r.vm.disks.length, criticalConcerns: r.vm.concerns.filter((c) => c.severity === "critical").length, error: null };
  } catch (e) {
    if (e instanceof FerryError && e.code.startsWith("ssh.")) throw e;
    const message = e instanceof FerryError ? e.describe() : (e as Error).message;
    return { ...base, name: vmxName.replace(/\.vmx$/i, ""), guestOS: null, family: "unknown", diskCount: 0, criticalConcerns: 0, error: message };
  }
}

export async function* scanShare(share: Share, relPath: string, options: ScanOptions = {}): AsyncGenerator<ScanItem> {
  const started = performance.now();
  const maxDepth = options.maxDepth ?? 32;
  const maxFolders = options.maxFolders ?? 500_000;
  const input = options.input ?? localInput;
  const start = await resolveInShare(share, relPath, input);
  const root = (await resolveInShare(share, "", input)).abs;
  const stack: { dir: string; depth: number }[] = [{ dir: start.abs, depth: 0 }];
  let folders = 0;
  let vms = 0;
  let truncated = false;
  let sinceYield = 0;
  while (stack.length) {
    if (options.signal?.aborted) return;
    if (folders >= maxFolders) {
      truncated = true;
      yield { type: "note", path: posix.relative(root, stack[stack.length - 1]!.dir), message: `stopped after ${maxFolders} folders` };
      break;
    }
    const { dir, depth } = stack.pop()!;
    folders++;
    let entries: DirEntry[];
    try {
      entries = await input.readdir(dir);
    } catch (e) {
      if (e instanceof FerryError) throw e;
      yield { type: "note", path: posix.relative(root, dir), message: `skipped: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      continue;
    }
    for (const d of entries) {
      if (d.type === "folder") {
        if (SKIP.has(d.name)) continue;
        if (depth + 1 > maxDepth) {
          truncated = true;
          continue;
        }
        stack.push({ dir: posix.join(dir, d.name), depth: depth + 1 });
      } else if (d.type === "file" && d.name.length > 4 && d.name.slice(-4).toLowerCase() === ".vmx") {
        vms++;
        yield { type: "vm", vm: await describeVm(input, root, dir, d.name, entries) };
      }
    }
    // Let the event loop breathe (and the client receive) on big trees.
    if (++sinceYield >= 2000) {
      sinceYield = 0;
      await new Promise((r) => setImmediate(r));
    }
  }
  yield { type: "done", folders, vms, truncated, ms: Math.round(performance.now() - started) };
}
