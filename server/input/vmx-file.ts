import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { FerryError } from "../errors";
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

export function readVmxBytes(path: string, options: OpenVmxOptions = {}): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (options.noFollow ? constants.O_NOFOLLOW : 0) | constants.O_NONBLOCK);
  } catch (e) {
    throw openError(path, e as NodeJS.ErrnoException);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new FerryError({
        code: "vmx.not-a-file",
        message: st.isDirectory() ? "is a folder, not a .vmx file" : "is not a regular file",
        file: path,
        hint: st.isDirectory() ? "give the .vmx file inside the guest's folder" : "give the guest's .vmx file",
      });
    }
    // Read at most one byte past the limit: enough for the reader to refuse it, never the whole of a huge file.
    const cap = Math.min(st.size, MAX_VMX_BYTES) + 1;
    const buf = Buffer.alloc(cap);
    let n = 0;
    while (n < cap) {
      const got = readSync(fd, buf, n, cap - n, null);
      if (got === 0) break;
      n += got;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, n);
  } catch (e) {
    if (e instanceof FerryError) throw e;
    throw openError(path, e as NodeJS.ErrnoException);
  } finally {
    closeSync(fd);
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

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Read and parse a .vmx from disk, checking which referenced files exist. */
export function readVmxFile(path: string, options: OpenVmxOptions = {}): ReadVmxResult {
  let bytes: Uint8Array;
  try {
    bytes = readVmxBytes(path, options);
  } catch (e) {
    if (e instanceof FerryError) return { ok: false, error: e };
    throw e;
  }
  const datastores = options.datastores ?? [];
  return readVmx(bytes, { vmxPath: path, exists: (p) => isRegularFile(p.startsWith("/") ? mapDatastorePath(p, datastores) : p) });
}
