import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, statSync, type Stats } from "node:fs";
import type { DirEntry, DiskSource, FileStat, FileType, Input, OpenFile, ValidatedDisk } from "./input";

/** Files on this host (a mounted NAS share, or a path on the command line). */

function typeOf(s: Stats): FileType {
  if (s.isFile()) return "file";
  if (s.isDirectory()) return "folder";
  if (s.isSymbolicLink()) return "symlink";
  if (s.isFIFO()) return "fifo";
  if (s.isBlockDevice() || s.isCharacterDevice()) return "device";
  if (s.isSocket()) return "socket";
  return "other";
}

export function fileStat(s: Stats): FileStat {
  return { type: typeOf(s), size: s.size, mtimeMs: s.mtimeMs, id: `${s.dev}:${s.ino}`, allocatedBytes: s.blocks * 512 };
}

class LocalFile implements OpenFile {
  readonly stat: FileStat;
  constructor(readonly path: string, private readonly fd: number) {
    this.stat = fileStat(fstatSync(fd));
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, this.stat.size - offset)));
    let n = 0;
    while (n < buf.length) {
      const got = readSync(this.fd, buf, n, buf.length - n, offset + n);
      if (got === 0) break;
      n += got;
    }
    return Promise.resolve(new Uint8Array(buf.buffer, buf.byteOffset, n));
  }
  close(): Promise<void> {
    closeSync(this.fd);
    return Promise.resolve();
  }
}

export class LocalInput implements Input {
  readonly kind = "local";
  label(path: string): string {
    return path;
  }
  realpath(path: string): Promise<string> {
    return Promise.resolve(realpathSync(path));
  }
  stat(path: string): Promise<FileStat> {
    return Promise.resolve(fileStat(statSync(path)));
  }
  lstat(path: string): Promise<FileStat> {
    return Promise.resolve(fileStat(lstatSync(path)));
  }
  /** Types from the directory entries (d_type), without a stat per entry: a scan of a big share depends on it. */
  readdir(path: string, max = Infinity): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    for (const d of readdirSync(path, { withFileTypes: true })) {
      if (out.length >= max) break;
      const type: FileType = d.isFile() ? "file" : d.isDirectory() ? "folder" : d.isSymbolicLink() ? "symlink" : d.isFIFO() ? "fifo" : d.isBlockDevice() || d.isCharacterDevice() ? "device" : d.isSocket() ? "socket" : "other";
      out.push({ name: d.name, type, size: null, mtimeMs: null });
    }
    return Promise.resolve(out);
  }
  open(path: string): Promise<OpenFile> {
    // O_NONBLOCK: a FIFO swapped in after a check must not hang the open.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      return Promise.resolve(new LocalFile(path, fd));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }
  /** qemu-img reads the descriptor Ferry validated, and its chain, from the absolute path. */
  diskSource(disk: ValidatedDisk): DiskSource {
    return { uri: disk.path, format: "vmdk" };
  }
  qemuEnv(): Promise<Record<string, string>> {
    return Promise.resolve({});
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const localInput = new LocalInput();
