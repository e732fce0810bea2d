import { statSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "../errors";
import { listVirtioWinTree, supportedWindows } from "./virtio-win";

/**
 * Where virtio-win's files are read from: an unpacked tree (the RPM's
 * /usr/share/virtio-win, or an unpacked ISO). The file list is read once.
 */
export interface VirtioWinSource {
  /** Every file, relative to the tree's root. */
  files(): string[];
  /** A host path to read one of them from. */
  local(file: string): Promise<string>;
}

export function virtioWinSource(path: string): VirtioWinSource {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new FerryError({ code: "virtio-win.missing", message: `virtio-win: ${path} does not exist (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file: path, hint: "install virtio-win (Fedora/RHEL: dnf install virtio-win; it goes to /usr/share/virtio-win) or unpack its ISO, and give that folder" });
  }
  if (!st.isDirectory()) {
    throw new FerryError({ code: "virtio-win.not-a-tree", message: `virtio-win: ${path} is not a folder`, file: path, hint: "unpack the virtio-win ISO (for example: mount -o loop,ro virtio-win.iso /mnt, or 7z x) and give the folder" });
  }
  let files: string[] | null = null;
  const list = () => (files ??= listVirtioWinTree(path));
  return {
    files: list,
    local: async (file) => {
      if (!list().includes(file)) throw new FerryError({ code: "virtio-win.file", message: `virtio-win: ${file} is not in ${path}`, file: path, hint: null });
      return join(path, file);
    },
  };
}

/** virtio-win for the plan: its path and the Windows versions it has boot drivers for (read once, at the edge). */
export function readVirtioWin(path: string): { path: string; supports: string[] } {
  return { path, supports: supportedWindows(virtioWinSource(path).files()) };
}

const listed = new Map<string, { at: number; value: { path: string; supports: string[] } }>();

/** The configured virtio-win (the config file's virtioWin), listed at most once a minute; null when none is configured. */
export function configuredVirtioWin(path: string | null): { path: string; supports: string[] } | null {
  if (!path) return null;
  const hit = listed.get(path);
  if (hit && Date.now() - hit.at < 60_000) return hit.value;
  const value = readVirtioWin(path);
  listed.set(path, { at: Date.now(), value });
  return value;
}
