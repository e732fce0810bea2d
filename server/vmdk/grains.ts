import type { CowdHeader, KdmvHeader } from "./sparse-header";
import { GD_AT_END, SECTOR } from "./sparse-header";

/**
 * Allocated data in a sparse extent, counted from its grain tables. Reads go
 * through `read` (offset, length → bytes) so this stays testable; every
 * offset is checked against the file size first.
 */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array> | Uint8Array;

export interface Allocation {
  bytes: number;
  source: "grain-tables" | "estimate";
}

/** Grain tables beyond this many bytes are not walked; the file size gives an estimate instead. */
const MAX_TABLE_BYTES = 64 * 1024 * 1024;

function estimate(fileSize: number, overheadBytes: number, capacityBytes: number): Allocation {
  return { bytes: Math.max(0, Math.min(capacityBytes, fileSize - overheadBytes)), source: "estimate" };
}

export async function kdmvAllocation(h: KdmvHeader, fileSize: number, read: ReadAt): Promise<Allocation> {
  const capacityBytes = h.capacitySectors * SECTOR;
  const overheadBytes = h.overheadSectors * SECTOR;
  // Grains live after the metadata: nothing past it means nothing allocated.
  if (fileSize <= overheadBytes) return { bytes: 0, source: "grain-tables" };
  let gdOffset = h.gdOffset;
  if (gdOffset === GD_AT_END) {
    // streamOptimized: the real header is the footer, 1024 bytes before the end.
    if (fileSize < 1536) return estimate(fileSize, overheadBytes, capacityBytes);
    const footer = await read(fileSize - 1024, SECTOR);
    if (footer.byteLength < SECTOR || Buffer.from(footer.subarray(0, 4)).toString("latin1") !== "KDMV") {
      return estimate(fileSize, overheadBytes, capacityBytes);
    }
    gdOffset = new DataView(footer.buffer, footer.byteOffset, SECTOR).getBigUint64(56, true);
  }
  const coverage = h.grainSectors * h.gtesPerGt;
  const tables = Math.ceil(h.capacitySectors / coverage);
  const gdBytes = tables * 4;
  const gdAt = Number(gdOffset) * SECTOR;
  const tableBytes = h.gtesPerGt * 4;
  if (gdOffset > BigInt(Number.MAX_SAFE_INTEGER) || gdAt + gdBytes > fileSize || tables * tableBytes > MAX_TABLE_BYTES) {
    return estimate(fileSize, overheadBytes, capacityBytes);
  }
  const gd = await read(gdAt, gdBytes);
  const gdView = new DataView(gd.buffer, gd.byteOffset, gd.byteLength);
  const offsets: number[] = [];
  for (let i = 0; i < tables; i++) offsets.push(gdView.getUint32(i * 4, true) * SECTOR);
  const grains = await countEntries(offsets, tableBytes, fileSize, read, 1);
  if (grains === null) return estimate(fileSize, overheadBytes, capacityBytes);
  return { bytes: Math.min(capacityBytes, grains * h.grainSectors * SECTOR), source: "grain-tables" };
}

export async function cowdAllocation(h: CowdHeader, fileSize: number, read: ReadAt): Promise<Allocation | null> {
  const capacityBytes = h.capacitySectors * SECTOR;
  const gdAt = h.gdOffset * SECTOR;
  const tableBytes = 4096 * 4;
  if (h.grainSectors === 0 || gdAt + h.gdEntries * 4 > fileSize || h.gdEntries * tableBytes > MAX_TABLE_BYTES) return null;
  const gd = await read(gdAt, h.gdEntries * 4);
  const view = new DataView(gd.buffer, gd.byteOffset, gd.byteLength);
  const offsets: number[] = [];
  for (let i = 0; i < h.gdEntries; i++) offsets.push(view.getUint32(i * 4, true) * SECTOR);
  const grains = await countEntries(offsets, tableBytes, fileSize, read, 0);
  if (grains === null) return null;
  return { bytes: Math.min(capacityBytes, grains * h.grainSectors * SECTOR), source: "grain-tables" };
}

/**
 * Count grain-table entries above `emptyAtMost` (0 = unallocated; in KDMV 1
 * marks a zeroed grain, which holds no data). Consecutive tables are read
 * in one go. Null when a table lies outside the file.
 */
async function countEntries(offsets: number[], tableBytes: number, fileSize: number, read: ReadAt, emptyAtMost: number): Promise<number | null> {
  let count = 0;
  let i = 0;
  while (i < offsets.length) {
    const start = offsets[i]!;
    if (start === 0) {
      i++;
      continue;
    }
    let n = 1;
    while (i + n < offsets.length && offsets[i + n] === start + n * tableBytes && n * tableBytes < 4 * 1024 * 1024) n++;
    if (start + n * tableBytes > fileSize) return null;
    const buf = await read(start, n * tableBytes);
    if (buf.byteLength < n * tableBytes) return null;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let k = 0; k < buf.byteLength; k += 4) if (view.getUint32(k, true) > emptyAtMost) count++;
    i += n;
  }
  return count;
}
