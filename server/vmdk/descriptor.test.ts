import { describe, expect, it } from "vitest";
import { FerryError } from "../errors";
import { parseDescriptor, selfExtent } from "./descriptor";

const enc = (s: string) => new TextEncoder().encode(s);
const parse = (s: string) => parseDescriptor(enc(s), "/nas/g/disk.vmdk");
function refused(s: string | Uint8Array): FerryError {
  try {
    parseDescriptor(typeof s === "string" ? enc(s) : s, "/nas/g/disk.vmdk");
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error("expected a refusal");
}

const ESXI = `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=8f2a1c3b
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW 83886080 VMFS "web01-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.geometry.cylinders = "5221"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.longContentID = "0d6a3c1e5f4b2a9c8f2a1c3bfffffffe"
ddb.uuid = "60 00 C2 9a 5b 7e 12 34-56 78 9a bc de f0 12 34"
ddb.virtualHWVersion = "13"
`;

describe("parseDescriptor", () => {
  it("reads an ESXi descriptor: header keys, extents and the disk database", () => {
    const d = parse(ESXI);
    expect(d).toMatchObject({ version: 1, cid: "8f2a1c3b", parentCid: "ffffffff", createType: "vmfs", parentFileNameHint: null, encoding: "UTF-8" });
    expect(d.extents).toEqual([{ access: "RW", sectors: 83886080, type: "VMFS", file: "web01-flat.vmdk", offset: 0, line: 10 }]);
    expect(d.ddb["ddb.adaptertype"]).toBe("lsilogic");
    expect(d.ddb["ddb.uuid"]).toBe("60 00 C2 9a 5b 7e 12 34-56 78 9a bc de f0 12 34");
    expect(d.lines["createtype"]).toBe(7);
    expect(d.warnings).toEqual([]);
  });

  it("reads flat offsets, ZERO extents, a parent hint and CRLF", () => {
    const d = parse('# Disk DescriptorFile\r\nversion=1\r\nCID=1\r\nparentCID=ABCDEF01\r\ncreateType="twoGbMaxExtentFlat"\r\nparentFileNameHint="base.vmdk"\r\nRW 100 FLAT "a-f001.vmdk" 7\r\nRW 50 ZERO\r\n');
    expect(d.parentCid).toBe("abcdef01");
    expect(d.parentFileNameHint).toBe("base.vmdk");
    expect(d.extents.map((e) => [e.type, e.sectors, e.file, e.offset])).toEqual([["FLAT", 100, "a-f001.vmdk", 7], ["ZERO", 50, null, 0]]);
  });

  it("reads the text embedded in a sparse file up to its NUL padding", () => {
    const bytes = new Uint8Array(4096);
    bytes.set(enc('# Disk DescriptorFile\nCID=1\ncreateType="monolithicSparse"\nRW 2048 SPARSE "d.vmdk"\n'));
    expect(parseDescriptor(bytes, "/nas/d.vmdk").extents).toHaveLength(1);
  });

  it("decodes file names in the descriptor's encoding", () => {
    const text = '# Disk DescriptorFile\nencoding="windows-1252"\ncreateType="monolithicFlat"\nRW 8 FLAT "B\xfcro-flat.vmdk" 0\n';
    const d = parseDescriptor(Uint8Array.from(text, (c) => c.charCodeAt(0)), "/nas/b.vmdk");
    expect(d.extents[0]!.file).toBe("Büro-flat.vmdk");
  });

  it("keeps the first of duplicate keys, with a warning naming the line", () => {
    const d = parse('# Disk DescriptorFile\nCID=1\nCID=2\ncreateType="vmfs"\nRW 8 VMFS "x"\n');
    expect(d.cid).toBe("1");
    expect(d.warnings).toEqual([expect.objectContaining({ code: "vmdk.syntax.duplicate", line: 3 })]);
  });

  it("refuses a malformed extent line, naming it", () => {
    expect(refused('# Disk DescriptorFile\ncreateType="vmfs"\nRW lots VMFS "x"\n')).toMatchObject({ code: "vmdk.extent.syntax", line: 3 });
    expect(refused('# Disk DescriptorFile\ncreateType="vmfs"\nRW 8 VMFS\n')).toMatchObject({ code: "vmdk.extent.syntax", line: 3 });
    expect(refused('# Disk DescriptorFile\ncreateType="vmfs"\nRW 99999999999999999999 VMFS "x"\n')).toMatchObject({ code: "vmdk.extent.syntax", line: 3 });
  });

  it("refuses a descriptor without createType or extents, and text that is not a descriptor", () => {
    expect(refused('# Disk DescriptorFile\nRW 8 FLAT "x" 0\n').code).toBe("vmdk.no-create-type");
    expect(refused('# Disk DescriptorFile\ncreateType="vmfs"\n')).toMatchObject({ code: "vmdk.no-extents", line: 2 });
    expect(refused("hello = world\n").code).toBe("vmdk.not-a-descriptor");
  });

  it("refuses more than 2048 extents, naming the line of the first one too many", () => {
    const lines = Array.from({ length: 2049 }, (_, i) => `RW 8 FLAT "f${i}" 0`);
    expect(refused(`# Disk DescriptorFile\ncreateType="twoGbMaxExtentFlat"\n${lines.join("\n")}\n`)).toMatchObject({ code: "vmdk.too-many-extents", line: 2051 });
  });

  it("refuses a descriptor over 1 MiB", () => {
    expect(refused(new Uint8Array(1024 * 1024 + 1)).code).toBe("vmdk.descriptor-too-large");
  });
});

describe("selfExtent", () => {
  const d = (createType: string, ...extents: string[]) => parse(`# Disk DescriptorFile\ncreateType="${createType}"\n${extents.join("\n")}\n`);

  it("is the single SPARSE extent of a monolithicSparse or streamOptimized disk, whatever file it names", () => {
    expect(selfExtent(d("monolithicSparse", 'RW 2048 SPARSE "old-name.vmdk"'))).toMatchObject({ file: "old-name.vmdk", line: 3 });
    expect(selfExtent(d("streamOptimized", 'RW 2048 SPARSE "old.vmdk"'))).toMatchObject({ file: "old.vmdk" });
    expect(selfExtent(d("MONOLITHICSPARSE", 'RW 2048 SPARSE "x.vmdk"'))).not.toBeNull();
  });

  it("is null for other types, several extents or a non-sparse extent", () => {
    expect(selfExtent(d("twoGbMaxExtentSparse", 'RW 2048 SPARSE "a-s001.vmdk"'))).toBeNull();
    expect(selfExtent(d("monolithicSparse", 'RW 2048 SPARSE "a.vmdk"', 'RW 2048 SPARSE "b.vmdk"'))).toBeNull();
    expect(selfExtent(d("monolithicSparse", 'RW 2048 FLAT "a-flat.vmdk" 0'))).toBeNull();
    expect(selfExtent(d("monolithicFlat", 'RW 2048 SPARSE "a.vmdk"'))).toBeNull();
  });
});
