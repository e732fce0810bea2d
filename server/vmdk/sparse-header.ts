import { FerryError } from "../errors";

/**
 * Binary headers of VMware sparse extents. Pure: bytes in, numbers out.
 *  - KDMV: hosted sparse (monolithicSparse, twoGbMaxExtentSparse, streamOptimized)
 *  - COWD: ESX vmfsSparse deltas
 *  - SESPARSE: ESXi 6.5+ deltas (magic 0x00000000cafebabe)
 */

export const SECTOR = 512;
export const GD_AT_END = 0xffffffffffffffffn;

export interface KdmvHeader {
  kind: "KDMV";
  version: number;
  flags: number;
  capacitySectors: number;
  grainSectors: number;
  descriptorOffset: number;
  descriptorSectors: number;
  gtesPerGt: number;
  gdOffset: bigint;
  overheadSectors: number;
  compressAlgorithm: number;
}

export interface CowdHeader {
  kind: "COWD";
  version: number;
  capacitySectors: number;
  grainSectors: number;
  gdOffset: number;
  gdEntries: number;
}

export interface SeSparseHeader {
  kind: "SESPARSE";
  capacitySectors: number;
}

export type SparseHeader = KdmvHeader | CowdHeader | SeSparseHeader;

function u64(view: DataView, at: number, file: string, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FerryError({ code: "vmdk.header.invalid", message: `${what} is out of range`, file, hint: "the sparse header is damaged" });
  }
  return Number(v);
}

export function sparseMagic(bytes: Uint8Array): SparseHeader["kind"] | null {
  if (bytes.byteLength < 8) return null;
  const magic = Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString("latin1");
  if (magic === "KDMV" || magic === "COWD") return magic;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  if (view.getBigUint64(0, true) === 0xcafebaben) return "SESPARSE";
  return null;
}

/** Parse the first 512 bytes of a sparse extent. */
export function parseSparseHeader(bytes: Uint8Array, file: string): SparseHeader {
  if (bytes.byteLength < SECTOR) {
    throw new FerryError({ code: "vmdk.header.short", message: `file is ${bytes.byteLength} bytes, shorter than a sparse header`, file, hint: "the disk file is truncated" });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SECTOR);
  const kind = sparseMagic(bytes);
  if (kind === "KDMV") {
    const h: KdmvHeader = {
      kind,
      version: view.getUint32(4, true),
      flags: view.getUint32(8, true),
      capacitySectors: u64(view, 12, file, "capacity"),
      grainSectors: u64(view, 20, file, "grain size"),
      descriptorOffset: u64(view, 28, file, "descriptor offset"),
      descriptorSectors: u64(view, 36, file, "descriptor size"),
      gtesPerGt: view.getUint32(44, true),
      gdOffset: view.getBigUint64(56, true),
      overheadSectors: u64(view, 64, file, "overhead"),
      compressAlgorithm: view.getUint16(77, true),
    };
    if (h.version < 1 || h.version > 3) {
      throw new FerryError({ code: "vmdk.header.version", message: `sparse header version ${h.version} is not supported (1 to 3 are)`, file, hint: "the disk may come from a newer VMware product; convert it with vmkfstools first" });
    }
    // Grains are 4 KiB..1 MiB powers of two in every VMware product; a wild value would make later arithmetic explode.
    if (h.grainSectors < 8 || h.grainSectors > 2048 || (h.grainSectors & (h.grainSectors - 1)) !== 0) {
      throw new FerryError({ code: "vmdk.header.invalid", message: `grain size of ${h.grainSectors} sectors is not valid`, file, hint: "the sparse header is damaged" });
    }
    if (h.gtesPerGt !== 512) {
      throw new FerryError({ code: "vmdk.header.invalid", message: `${h.gtesPerGt} entries per grain table (VMware uses 512)`, file, hint: "the sparse header is damaged" });
    }
    if (h.descriptorSectors * SECTOR > 1024 * 1024) {
      throw new FerryError({ code: "vmdk.descriptor-too-large", message: `embedded descriptor of ${h.descriptorSectors} sectors is over 1 MiB`, file, hint: "the sparse header is damaged or hostile" });
    }
    return h;
  }
  if (kind === "COWD") {
    return {
      kind,
      version: view.getUint32(4, true),
      capacitySectors: view.getUint32(12, true),
      grainSectors: view.getUint32(16, true),
      gdOffset: view.getUint32(20, true),
      gdEntries: view.getUint32(24, true),
    };
  }
  if (kind === "SESPARSE") {
    return { kind, capacitySectors: u64(view, 16, file, "capacity") };
  }
  throw new FerryError({ code: "vmdk.header.magic", message: "not a VMware sparse extent (no KDMV, COWD or SESPARSE magic)", file, hint: "the file does not match the extent type its descriptor gives" });
}
