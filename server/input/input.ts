import { z } from "zod";

/**
 * Where a guest's files are read from: one small interface, one module per
 * kind (`local.ts`, `ssh.ts`), picked in one place (`index.ts`). The VMX
 * reader, the VMDK inspector, the share browser and the pipeline only ever
 * see an `Input`; none of them knows which kind it is.
 *
 * Every method is read-only. Errors about a file are thrown as errno-shaped
 * errors (`code`: ENOENT, EACCES, ELOOP, ENOTDIR, EIO) so the callers keep
 * their own messages; errors about the input itself (a refused host key, a
 * dropped connection) are FerryErrors.
 */

export type FileType = "file" | "folder" | "symlink" | "fifo" | "device" | "socket" | "other";

export interface FileStat {
  type: FileType;
  size: number;
  mtimeMs: number;
  /** `dev:ino` where the input knows it (local files); SFTP has no inode numbers. */
  id: string | null;
  /** Bytes allocated on disk, where the input knows it. */
  allocatedBytes: number | null;
}

export interface DirEntry {
  name: string;
  /** As lstat sees it: a symbolic link is `symlink`. */
  type: FileType;
  /** Where the listing gives them for free (SFTP); null when they would cost a stat each (local). */
  size: number | null;
  mtimeMs: number | null;
}

/** An open file: read-only, opened without following a symlink and without blocking on a FIFO. */
export interface OpenFile {
  readonly path: string;
  readonly stat: FileStat;
  /** Up to `length` bytes at `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** What qemu-img opens as the overlay's read-only backing file. */
export const DiskSource = z.object({
  /** An absolute local path, or a `json:` pseudo-protocol name Ferry built from validated parts. */
  uri: z.string(),
  format: z.enum(["vmdk", "raw"]),
});
export type DiskSource = z.infer<typeof DiskSource>;

/** The top of a disk as the VMDK inspector validated it, for `diskSource`. */
export interface ValidatedDisk {
  /** The descriptor (or single sparse file), realpath. */
  path: string;
  createType: string;
  /** Links in the snapshot chain, top first (1: no snapshot). */
  chainLength: number;
  capacityBytes: number;
  /** The top link's extents, resolved. */
  extents: { type: string; path: string | null; offsetSectors: number; sectors: number }[];
}

export interface Input {
  /** `local` or `ssh`: for logs only; nothing may branch on it. */
  readonly kind: string;
  /** How a path on this input reads in messages: the path itself, or `ssh://user@host:port/path`. */
  label(path: string): string;
  realpath(path: string): Promise<string>;
  stat(path: string): Promise<FileStat>;
  lstat(path: string): Promise<FileStat>;
  /** One folder's entries, at most `max` (the rest are not read). */
  readdir(path: string, max?: number): Promise<DirEntry[]>;
  open(path: string): Promise<OpenFile>;
  /** The read-only source qemu-img reads this validated disk from; throws a FerryError when it cannot read it from this input. */
  diskSource(disk: ValidatedDisk): DiskSource;
  /** Environment qemu-img needs to read the disk sources (an ssh-agent socket). */
  qemuEnv(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Errno-shaped error, as the local file system throws them. */
export function errnoError(code: string, message: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}, '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.path = path;
  return e;
}

/** The same file as before (inode where known, else size and mtime): guards the time between a check and an open. */
export function sameFile(a: FileStat, b: FileStat): boolean {
  if (a.id !== null && b.id !== null) return a.id === b.id;
  return a.type === b.type && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
