import { FerryError } from "../errors";

/**
 * Reads an initramfs without unpacking it: a concatenation of cpio "newc"
 * archives, the first often uncompressed (early microcode), the last
 * compressed (gzip, zstd, xz, lz4, bzip2, lzma). Pure: decompression is
 * handed in, so the parser never runs a program or touches a file.
 */

export type Compression = "gzip" | "zstd" | "xz" | "lz4" | "bzip2" | "lzma";
export type Decompress = (kind: Compression, data: Buffer) => Buffer;

export interface InitramfsListing {
  /** Every path in every archive, without a leading "./". */
  files: string[];
  /** Module names (dashes as underscores) of every `.ko` file, compressed or not. */
  modules: Set<string>;
  /** One entry per archive segment, in order: "cpio" or the compression. */
  segments: string[];
}

const MAGICS: Array<[Compression, number[]]> = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["lz4", [0x02, 0x21, 0x4c, 0x18]],
  ["bzip2", [0x42, 0x5a, 0x68]],
  ["lzma", [0x5d, 0x00, 0x00]],
];

function compressionAt(buf: Buffer, at: number): Compression | null {
  for (const [kind, magic] of MAGICS) {
    if (magic.every((b, i) => buf[at + i] === b)) return kind;
  }
  return null;
}

const MAX_ENTRIES = 500_000;

/** Walk one run of cpio newc entries from `at`; returns the offset after its trailer. */
function readCpio(buf: Buffer, at: number, files: string[], file: string): number {
  let p = at;
  for (let n = 0; n < MAX_ENTRIES; n++) {
    if (p + 110 > buf.length) throw new FerryError({ code: "initramfs.truncated", message: `the cpio archive ends inside a header at byte ${p}`, file, hint: "the initramfs is damaged; the conversion rebuilds it" });
    const magic = buf.toString("latin1", p, p + 6);
    if (magic !== "070701" && magic !== "070702") throw new FerryError({ code: "initramfs.format", message: `no cpio header at byte ${p} (found ${JSON.stringify(magic)})`, file, hint: "the initramfs is damaged or in an unknown format; the conversion rebuilds it" });
    const field = (i: number) => parseInt(buf.toString("latin1", p + 6 + i * 8, p + 14 + i * 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    if (!Number.isFinite(fileSize) || !Number.isFinite(nameSize) || nameSize < 1) throw new FerryError({ code: "initramfs.format", message: `a damaged cpio header at byte ${p}`, file, hint: null });
    const nameStart = p + 110;
    const name = buf.toString("utf8", nameStart, nameStart + nameSize - 1);
    const dataStart = (nameStart + nameSize + 3) & ~3;
    const next = (dataStart + fileSize + 3) & ~3;
    if (dataStart + fileSize > buf.length) throw new FerryError({ code: "initramfs.truncated", message: `the cpio entry ${name} runs past the end of the archive`, file, hint: null });
    p = next;
    if (name === "TRAILER!!!") return p;
    files.push(name.replace(/^\.\//, ""));
  }
  throw new FerryError({ code: "initramfs.format", message: `more than ${MAX_ENTRIES} entries`, file, hint: null });
}

const MODULE_RE = /(?:^|\/)([^/]+)\.ko(?:\.(?:xz|zst|gz))?$/;

/** List an initramfs image; `file` names it in errors. */
export function listInitramfs(image: Buffer, decompress: Decompress, file: string): InitramfsListing {
  const files: string[] = [];
  const segments: string[] = [];
  let buf = image;
  let p = 0;
  for (let depth = 0; depth < 16; depth++) {
    // Archives are padded with zeros to a 512-byte boundary between segments.
    while (p < buf.length && buf[p] === 0) p++;
    if (p >= buf.length) break;
    const kind = compressionAt(buf, p);
    if (kind && segments.some((x) => x !== "cpio")) {
      // The kernel unpacks one compressed archive, at the end; a second is not an initramfs.
      throw new FerryError({ code: "initramfs.format", message: `compressed data inside a compressed archive at byte ${p}`, file, hint: "the initramfs is damaged; the conversion rebuilds it" });
    }
    if (kind) {
      segments.push(kind);
      // A compressed segment runs to the end of the image (as the kernel reads it).
      buf = decompress(kind, buf.subarray(p));
      p = 0;
      continue;
    }
    if (buf.toString("latin1", p, p + 5) !== "07070") throw new FerryError({ code: "initramfs.format", message: `unknown data at byte ${p} of an initramfs segment`, file, hint: "the initramfs is damaged or in an unknown format" });
    segments.push("cpio");
    p = readCpio(buf, p, files, file);
  }
  const modules = new Set<string>();
  for (const f of files) {
    const m = MODULE_RE.exec(f);
    if (m) modules.add(m[1]!.replace(/-/g, "_"));
  }
  return { files, modules, segments };
}

/** One entry of a cpio "newc" archive Ferry writes: a directory or a regular file. */
export interface CpioEntry {
  path: string;
  /** Full st_mode: 0o040755 for a directory, 0o100644 for a file. */
  mode: number;
  data?: Buffer;
}

/** A cpio "newc" archive (the format the kernel unpacks), with its trailer, padded to 512 bytes. */
export function cpioArchive(entries: CpioEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const pad4 = (len: number) => Buffer.alloc((4 - (len % 4)) % 4);
  const push = (name: string, mode: number, data: Buffer, nlink: number) => {
    const nameBytes = Buffer.from(`${name}\0`, "utf8");
    const head = Buffer.from(`070701${[ino++, mode, 0, 0, nlink, mtime, data.length, 0, 0, 0, 0, nameBytes.length, 0].map(hex).join("")}`, "latin1");
    parts.push(head, nameBytes, pad4(head.length + nameBytes.length), data, pad4(data.length));
  };
  for (const e of entries) push(e.path.replace(/^\/+/, ""), e.mode, e.data ?? Buffer.alloc(0), (e.mode & 0o170000) === 0o040000 ? 2 : 1);
  push("TRAILER!!!", 0, Buffer.alloc(0), 1);
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/**
 * Put an uncompressed archive into an initramfs before its compressed
 * part, where early-microcode archives sit: the kernel unpacks every
 * archive in order, so the files are there when udev starts, and the
 * image's own archive (unpacked after) still creates its /lib and /bin
 * symlinks. Adding files this way costs milliseconds, where rebuilding a
 * Debian image under emulation takes minutes.
 */
export function insertEarlyArchive(image: Buffer, archive: Buffer, file: string): Buffer {
  let p = 0;
  for (let n = 0; n < 16; n++) {
    while (p < image.length && image[p] === 0) p++;
    if (p >= image.length || compressionAt(image, p)) break;
    if (image.toString("latin1", p, p + 5) !== "07070") throw new FerryError({ code: "initramfs.format", message: `unknown data at byte ${p} of the initramfs`, file, hint: "the initramfs is damaged or in an unknown format; it is rebuilt instead" });
    p = readCpio(image, p, [], file);
  }
  // Segments start on 4-byte boundaries; the kernel skips the zeros between them.
  const head = image.subarray(0, p);
  const gap = Buffer.alloc((4 - (head.length % 4)) % 4);
  return Buffer.concat([head, gap, archive, image.subarray(p)]);
}
