import { describe, expect, it } from "vitest";
import { cowdDelta } from "../../test/fixtures/vmdk";
import { parseSparseHeader } from "./sparse-header";

function kdmv(patch: (v: DataView) => void = () => {}): Uint8Array {
  const b = new Uint8Array(512);
  b.set(new TextEncoder().encode("KDMV"));
  const v = new DataView(b.buffer);
  v.setUint32(4, 1, true);
  v.setUint32(8, 3, true);
  v.setBigUint64(12, 131072n, true);
  v.setBigUint64(20, 128n, true);
  v.setBigUint64(28, 1n, true);
  v.setBigUint64(36, 20n, true);
  v.setUint32(44, 512, true);
  v.setBigUint64(56, 21n, true);
  v.setBigUint64(64, 128n, true);
  patch(v);
  return b;
}

describe("parseSparseHeader", () => {
  it("reads a KDMV header", () => {
    expect(parseSparseHeader(kdmv(), "/d.vmdk")).toMatchObject({ kind: "KDMV", capacitySectors: 131072, grainSectors: 128, descriptorOffset: 1, descriptorSectors: 20, gtesPerGt: 512, gdOffset: 21n, overheadSectors: 128 });
  });

  it("reads a COWD header", () => {
    expect(parseSparseHeader(new Uint8Array(cowdDelta(131072)), "/d-delta.vmdk")).toMatchObject({ kind: "COWD", capacitySectors: 131072, grainSectors: 8, gdOffset: 8, gdEntries: 4 });
  });

  it.each([
    ["an unknown version", (v: DataView) => v.setUint32(4, 9, true), "vmdk.header.version"],
    ["a grain that is not a power of two", (v: DataView) => v.setBigUint64(20, 100n, true), "vmdk.header.invalid"],
    ["a huge grain", (v: DataView) => v.setBigUint64(20, 1n << 40n, true), "vmdk.header.invalid"],
    ["odd grain tables", (v: DataView) => v.setUint32(44, 4096, true), "vmdk.header.invalid"],
    ["a capacity beyond 2^53", (v: DataView) => v.setBigUint64(12, 1n << 60n, true), "vmdk.header.invalid"],
    ["an embedded descriptor over 1 MiB", (v: DataView) => v.setBigUint64(36, 4096n, true), "vmdk.descriptor-too-large"],
  ])("refuses %s", (_, patch, code) => {
    expect(() => parseSparseHeader(kdmv(patch), "/d.vmdk")).toThrow(expect.objectContaining({ code, file: "/d.vmdk" }));
  });

  it("refuses a short file and an unknown magic", () => {
    expect(() => parseSparseHeader(new Uint8Array(100), "/d.vmdk")).toThrow(expect.objectContaining({ code: "vmdk.header.short" }));
    expect(() => parseSparseHeader(new Uint8Array(512), "/d.vmdk")).toThrow(expect.objectContaining({ code: "vmdk.header.magic" }));
  });
});
