import { FerryError } from "../errors";
import { errnoError, type Input, type OpenFile } from "./input";
import { localInput } from "./local";
import { mapDatastorePath, type Confinement } from "../vmdk/confine";
import { MAX_VMX_BYTES, readVmx, type ReadVmxResult } from "../vmx";

/**
 * The edge of the VMX input: reads a .vmx from disk, read-only and bounded,
 * and hands the bytes to the pure reader. Disk files are only stat'ed here.
 */
export interface OpenVmxOptions {
  /** Refuse a symlink as the VMX itself (for share browsing; the CLI follows them). */
  noFollow?: boolean;
  /** ESXi datastore paths mapped to local folders, for checking which files exist. */
  datastores?: Confinement["datastores"];
}

export async function readVmxBytes(path: string, options: OpenVmxOptions = {}, input: Input = localInput): Promise<Uint8Array> {
  let file: OpenFile;
  try {
    if (options.noFollow) {
      if ((await input.lstat(path)).type === "symlink") throw errnoError("ELOOP", "is a symbolic link", path);
      file = await input.open(path);
    } else {
      file = await input.open(await input.realpath(path));
    }
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw openError(input.label(path), e as NodeJS.ErrnoException);
  }
  try {
    const st = file.stat;
    if (st.type !== "file") {
      throw new FerryError({
        code: "vmx.not-a-file",
        message: st.type === "folder" ? "is a folder, not a .vmx file" : "is not a regular file",
        file: input.label(path),
        hint: st.type === "folder" ? "give the .vmx file inside the guest's folder" : "give the guest's .vmx file",
      });
    }
    // Read at most one byte past the limit: enough for the reader to refuse it, never the whole of a huge file.
    return await file.read(0, Math.min(st.size, MAX_VMX_BYTES) + 1);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw openError(input.label(path), e as NodeJS.ErrnoException);
  } finally {
    await file.close();
  }
}
function openError(path: string, e: NodeJS.ErrnoException): FerryError {
  switch (e.code) {
    case "ENOENT":
      return new FerryError({ code: "vmx.not-found", message: "no such file", file: path, hint: "check the path; on a NAS, check that the share is mounted" });
    case "EACCES":
    case "EPERM":
      return new FerryError({ code: "vmx.unreadable", message: "permission denied", file: path, hint: "Ferry needs read access to the guest's folder (it never writes there)" });
    case "ELOOP":
      return new FerryError({ code: "vmx.symlink", message: "is a symbolic link, which is not followed here", file: path, hint: "give the real path of the .vmx file" });
    case "EISDIR":
      return new FerryError({ code: "vmx.not-a-file", message: "is a folder, not a .vmx file", file: path, hint: "give the .vmx file inside the guest's folder" });
    default:
      return new FerryError({ code: "vmx.io", message: `cannot read: ${e.message}`, file: path, hint: null });
  }
}

async function isRegularFile(input: Input, path: string): Promise<boolean> {
  try {
    return (await input.stat(path)).type === "file";
  } catch (e) {
    if (e instanceof FerryError) throw e;
    return false;
  }
}

/** Read and parse a .vmx from an input, checking which referenced files exist. */
export async function readVmxFile(path: string, options: OpenVmxOptions = {}, input: Input = localInput): Promise<ReadVmxResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readVmxBytes(path, options, input);
  } catch (e) {
    if (e instanceof FerryError) return { ok: false, error: e };
    throw e;
  }
  const datastores = options.datastores ?? [];
  const local = (p: string) => (p.startsWith("/") ? mapDatastorePath(p, datastores) : p);
  // The reader is pure and asks synchronously: read once to learn the names, stat them, read again.
  const first = readVmx(bytes, { vmxPath: path });
  if (!first.ok) return first;
  const names = [...first.vm.disks.map((d) => d.path), ...first.vm.cdroms.map((c) => c.path)].filter((p): p is string => !!p);
  const found = new Map<string, boolean>();
  for (const n of new Set(names)) found.set(n, await isRegularFile(input, local(n)));
  return readVmx(bytes, { vmxPath: path, exists: (p) => found.get(p) ?? false });
}
