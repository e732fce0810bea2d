import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, type Stats } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { FerryError } from "../errors";
import { Appliance } from "./appliance";
import { listVirtioWinTree, supportedWindows } from "./virtio-win";

/**
 * Where virtio-win's files are read from: an unpacked tree (the RPM's
 * /usr/share/virtio-win, or an unpacked ISO), or the ISO itself, opened
 * read-only in its own libguestfs appliance (the host needs no ISO tools
 * and no loop mount). The file list is read once.
 */
export interface VirtioWinSource {
  /** Every file, relative to the root. */
  files: string[];
  /** A host path to read one of them from. */
  local(file: string): Promise<string>;
  close(): Promise<void>;
}

/** An ISO larger than this is not virtio-win (its ISO is about 700 MB). */
const MAX_ISO = 4 * 1024 ** 3;

function missing(path: string, e: unknown): FerryError {
  return new FerryError({ code: "virtio-win.missing", message: `virtio-win: ${path} does not exist (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file: path, hint: "install virtio-win (Fedora/RHEL: dnf install virtio-win; it goes to /usr/share/virtio-win) or give its ISO, and name that folder or file" });
}

export async function openVirtioWin(path: string): Promise<VirtioWinSource> {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw missing(path, e);
  }
  if (st.isDirectory()) {
    const files = listVirtioWinTree(path);
    return {
      files,
      local: async (file) => {
        if (!files.includes(file)) throw new FerryError({ code: "virtio-win.file", message: `virtio-win: ${file} is not in ${path}`, file: path, hint: null });
        return join(path, file);
      },
      close: async () => undefined,
    };
  }
  if (!st.isFile() || st.size > MAX_ISO) {
    throw new FerryError({ code: "virtio-win.not-a-tree", message: `virtio-win: ${path} is neither a folder nor an ISO image`, file: path, hint: "give the virtio-win folder (/usr/share/virtio-win) or the virtio-win ISO file" });
  }
  // ISO 9660's volume descriptor says CD001 at 32 KiB + 1: checked here, before an appliance starts.
  const head = Buffer.alloc(5);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, 5, 0x8001);
  } finally {
    closeSync(fd);
  }
  if (head.toString("latin1") !== "CD001") {
    throw new FerryError({ code: "virtio-win.not-a-tree", message: `virtio-win: ${path} is not an ISO 9660 image`, file: path, hint: "give the virtio-win ISO file, or the folder it unpacks to (/usr/share/virtio-win)" });
  }
  return openIso(path);
}

async function openIso(path: string): Promise<VirtioWinSource> {
  const app = await Appliance.launch({ drives: [{ path, format: "raw", readonly: true }], memoryMiB: 512 });
  const dir = mkdtempSync(join(tmpdir(), "ferry-virtio-win-"));
  const close = async () => {
    rmSync(dir, { recursive: true, force: true });
    await app.close();
  };
  try {
    if ((await app.tryCall<string>("vfs_type", "/dev/sda")) !== "iso9660") {
      throw new FerryError({ code: "virtio-win.not-a-tree", message: `virtio-win: ${path} is not an ISO 9660 image`, file: path, hint: "give the virtio-win ISO file, or the folder it unpacks to" });
    }
    await app.call("mount_ro", "/dev/sda", "/");
    const files: string[] = [];
    for (const f of await app.call<string[]>("find", "/")) {
      const rel = f.replace(/^\/+/, "");
      if (rel && (await app.call<boolean>("is_file", `/${rel}`))) files.push(rel);
    }
    files.sort();
    if (!files.some((f) => /(^|\/)(viostor|vioscsi)\.sys$/i.test(f))) {
      throw new FerryError({ code: "virtio-win.empty", message: `virtio-win: ${path} holds no viostor.sys or vioscsi.sys: it is not a virtio-win ISO`, file: path, hint: "give the virtio-win ISO (virtio-win.iso from Fedora or Red Hat)" });
    }
    let n = 0;
    return {
      files,
      local: async (file) => {
        if (!files.includes(file)) throw new FerryError({ code: "virtio-win.file", message: `virtio-win: ${file} is not in ${path}`, file: path, hint: null });
        const to = join(dir, `${n++}-${posix.basename(file)}`);
        await app.call("download", `/${file}`, to);
        return to;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** virtio-win for the plan: its path and the Windows versions it has boot drivers for (read at the edge). */
export async function readVirtioWin(path: string): Promise<{ path: string; supports: string[] }> {
  const source = await openVirtioWin(path);
  try {
    return { path, supports: supportedWindows(source.files) };
  } finally {
    await source.close();
  }
}

const listed = new Map<string, { key: string; at: number; value: { path: string; supports: string[] } }>();

/**
 * The configured virtio-win (the config file's virtioWin), listed again
 * only when it changed (an ISO costs an appliance start) or, for a tree,
 * after a minute; null when none is configured.
 */
export async function configuredVirtioWin(path: string | null): Promise<{ path: string; supports: string[] } | null> {
  if (!path) return null;
  let key = "";
  try {
    const s = statSync(path);
    key = `${s.isDirectory() ? "dir" : "file"}:${s.size}:${s.mtimeMs}`;
  } catch (e) {
    throw missing(path, e);
  }
  const hit = listed.get(path);
  if (hit && hit.key === key && (!key.startsWith("dir") || Date.now() - hit.at < 60_000)) return hit.value;
  const value = await readVirtioWin(path);
  listed.set(path, { key, at: Date.now(), value });
  return value;
}

/** The virtio-win a plan gets: the configured one, for a Windows guest whose job wants drivers; null otherwise. */
export async function virtioWinFor(vm: { guestOS: { family: string } }, wanted: boolean, path: string | null): ReturnType<typeof configuredVirtioWin> {
  return wanted && vm.guestOS.family === "windows" ? configuredVirtioWin(path) : null;
}
