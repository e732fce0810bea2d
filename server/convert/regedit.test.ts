import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { emptyHive } from "./hive";
import { readKeys, setValues } from "./regedit";
import { decodeValue, encodeValue, showValue, valueOf, type RegValue } from "./registry";

const dir = mkdtempSync(join(tmpdir(), "ferry-hive-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("emptyHive", () => {
  it("writes a regf header hivex checks: magic, version 1.3, root at 0x20, one 4 KiB bin, a valid checksum", () => {
    const h = emptyHive("SYSTEM");
    expect(h.length).toBe(0x2000);
    expect(h.toString("latin1", 0, 4)).toBe("regf");
    expect([h.readUInt32LE(0x14), h.readUInt32LE(0x18), h.readUInt32LE(0x24), h.readUInt32LE(0x28)]).toEqual([1, 3, 0x20, 0x1000]);
    let sum = 0;
    for (let i = 0; i < 0x1fc; i += 4) sum = (sum ^ h.readUInt32LE(i)) >>> 0;
    expect(h.readUInt32LE(0x1fc)).toBe(sum);
    expect(h.toString("latin1", 0x1000, 0x1004)).toBe("hbin");
    expect(h.toString("latin1", 0x1024, 0x1026)).toBe("nk");
  });

  it("refuses an empty root name", () => {
    expect(() => emptyHive("")).toThrow(RangeError);
  });

  it("is a hive hivex opens, extends and commits: keys, every value type, read back", () => {
    const file = join(dir, "SYSTEM");
    writeFileSync(file, emptyHive("SYSTEM"));
    setValues(file, [
      { key: ["Select"], name: "Current", value: { type: "dword", value: 1 } },
      { key: ["ControlSet001", "Services", "viostor"], name: "ImagePath", value: { type: "expand_sz", value: "system32\\drivers\\viostor.sys" } },
      { key: ["ControlSet001", "Services", "viostor"], name: "Group", value: { type: "sz", value: "SCSI miniport" } },
      { key: ["ControlSet001", "Control", "Class", "{x}"], name: "UpperFilters", value: { type: "multi_sz", value: ["mouclass", "vmmouse"] } },
      { key: ["MountedDevices"], name: "\\DosDevices\\C:", value: { type: "binary", value: "78563412" + "0000100000000000" } },
    ]);
    // hivex's own name lookup is case-insensitive, as Windows'.
    const [select, svc, cls, mounted, absent] = readKeys(file, [["select"], ["ControlSet001", "services", "VIOSTOR"], ["ControlSet001", "Control", "Class", "{x}"], ["MountedDevices"], ["Nope"]]);
    expect(valueOf(select!, "current")).toEqual({ type: "dword", value: 1 });
    expect(valueOf(svc!, "ImagePath")).toEqual({ type: "expand_sz", value: "system32\\drivers\\viostor.sys" });
    expect(valueOf(svc!, "Group")).toEqual({ type: "sz", value: "SCSI miniport" });
    expect(valueOf(cls!, "UpperFilters")).toEqual({ type: "multi_sz", value: ["mouclass", "vmmouse"] });
    expect(valueOf(mounted!, "\\DosDevices\\C:")).toEqual({ type: "binary", value: "785634120000100000000000" });
    expect(absent).toBeNull();
    expect(readKeys(file, [["ControlSet001"]])[0]!.subkeys.sort()).toEqual(["Control", "Services"]);
  });

  it("a hive that is not one is a FerryError naming the file", () => {
    const file = join(dir, "junk");
    writeFileSync(file, Buffer.alloc(8192, 7));
    expect(() => readKeys(file, [["x"]])).toThrow(/hivex on .*junk/);
  });
});

describe("registry values", () => {
  it("encode as Windows stores them: UTF-16LE with NULs, little-endian DWORDs, a double NUL after a multi-string", () => {
    expect(encodeValue({ type: "sz", value: "ab" }).toString("hex")).toBe("610062000000");
    expect(encodeValue({ type: "dword", value: 0x12345678 }).toString("hex")).toBe("78563412");
    expect(encodeValue({ type: "multi_sz", value: ["a", "b"] }).toString("hex")).toBe("61000000" + "62000000" + "0000");
  });

  it("decode what they encode", () => {
    for (const v of [{ type: "sz", value: "C:\\Windows" }, { type: "multi_sz", value: ["x", "yz"] }, { type: "dword", value: 4 }, { type: "binary", value: "01ff" }] as RegValue[]) {
      expect(decodeValue(({ sz: 1, multi_sz: 7, dword: 4, binary: 3 } as Record<string, number>)[v.type]!, encodeValue(v))).toEqual(v);
    }
  });

  it("show as a report prints them", () => {
    expect(showValue({ type: "dword", value: 0 })).toBe("REG_DWORD 0");
    expect(showValue({ type: "multi_sz", value: ["a"] })).toBe('REG_MULTI_SZ ["a"]');
    expect(showValue(null)).toBe("(absent)");
  });
});
