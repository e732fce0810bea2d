import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { ferryErrorOf } from "../../test/fixtures/errors";
import { guidBytes, guidText, loadOption, readBootEntries, withBootEntries, type UefiBootEntry } from "./ovmf-vars";

/** Debian's OVMF templates (package ovmf), read as they ship. */
const TEMPLATE = readFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd");
const MS_TEMPLATE = readFileSync("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");

const DEBIAN: UefiBootEntry = { description: "debian", partition: { number: 1, startLba: 2048, sizeLba: 1048576, guid: "0e8c3a3c-1d2b-4c5e-9f00-112233445566" }, path: "\\EFI\\debian\\shimx64.efi" };
const FALLBACK: UefiBootEntry = { description: "debian (grub)", partition: { number: 1, startLba: 2048, sizeLba: 1048576, guid: "0e8c3a3c-1d2b-4c5e-9f00-112233445566" }, path: "\\EFI\\debian\\grubx64.efi" };

function differences(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

describe("GUIDs", () => {
  it("are stored with their first three fields little-endian, as EFI_GUID is", () => {
    expect(guidBytes("8be4df61-93ca-11d2-aa0d-00e098032b8c").toString("hex")).toBe("61dfe48bca93d211aa0d00e098032b8c");
    expect(guidText(guidBytes("8BE4DF61-93CA-11D2-AA0D-00E098032B8C"))).toBe("8BE4DF61-93CA-11D2-AA0D-00E098032B8C");
    expect(ferryErrorOf(() => guidBytes("not-a-guid")).code).toBe("uefi-vars.entry");
  });
});

describe("loadOption", () => {
  it("is EFI_LOAD_OPTION: active, the UCS-2 description, HD(GPT)/File/End", () => {
    const b = loadOption(DEBIAN);
    const description = Buffer.from("debian\0", "utf16le");
    const file = Buffer.from("\\EFI\\debian\\shimx64.efi\0", "utf16le");
    expect(b.readUInt32LE(0)).toBe(1); // LOAD_OPTION_ACTIVE
    expect(b.readUInt16LE(4)).toBe(42 + 4 + file.length + 4); // FilePathListLength
    expect(b.subarray(6, 6 + description.length)).toEqual(description);
    const hd = b.subarray(6 + description.length);
    expect([...hd.subarray(0, 4)]).toEqual([0x04, 0x01, 42, 0]); // MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP, length 42
    expect(hd.readUInt32LE(4)).toBe(1);
    expect(hd.readBigUInt64LE(8)).toBe(2048n);
    expect(hd.readBigUInt64LE(16)).toBe(1048576n);
    expect(hd.subarray(24, 40)).toEqual(guidBytes(DEBIAN.partition.guid));
    expect([hd[40], hd[41]]).toEqual([2, 2]); // GPT, GUID signature
    const fp = hd.subarray(42);
    expect([fp[0], fp[1], fp.readUInt16LE(2)]).toEqual([0x04, 0x04, 4 + file.length]); // MEDIA_FILEPATH_DP
    expect(fp.subarray(4, 4 + file.length)).toEqual(file);
    expect([...fp.subarray(4 + file.length)]).toEqual([0x7f, 0xff, 4, 0]); // End of the whole path
  });

  it("refuses what cannot be a boot entry", () => {
    expect(ferryErrorOf(() => loadOption({ ...DEBIAN, path: "/EFI/debian/shimx64.efi" })).message).toMatch(/must start with a backslash/);
    expect(ferryErrorOf(() => loadOption({ ...DEBIAN, partition: { ...DEBIAN.partition, number: 0 } })).message).toMatch(/partition number 0/);
    expect(ferryErrorOf(() => loadOption({ ...DEBIAN, partition: { ...DEBIAN.partition, sizeLba: -1 } })).message).toMatch(/must be positive LBAs/);
    expect(ferryErrorOf(() => loadOption({ ...DEBIAN, description: "" })).message).toMatch(/needs a description/);
  });
});

describe("withBootEntries", () => {
  it("appends Boot0000, Boot0001 and BootOrder to OVMF's empty store, 4-byte aligned, VAR_ADDED, NV|BS|RT, and reads them back", () => {
    expect(readBootEntries(TEMPLATE)).toEqual({ order: [], entries: [] });
    const copy = Buffer.from(TEMPLATE);
    const vars = withBootEntries(TEMPLATE, [DEBIAN, FALLBACK]);
    expect(TEMPLATE.equals(copy)).toBe(true); // the template is not touched
    expect(vars.length).toBe(TEMPLATE.length);
    // The store header is at the FV header's length (72); the first variable right after its 28 bytes.
    expect(vars.readUInt16LE(48)).toBe(72);
    const first = 100;
    expect(vars.readUInt16LE(first)).toBe(0x55aa);
    expect(vars[first + 2]).toBe(0x3f);
    expect(vars.readUInt32LE(first + 4)).toBe(7);
    expect(vars.readUInt32LE(first + 36)).toBe(Buffer.byteLength("Boot0000\0", "utf16le"));
    expect(vars.subarray(first + 44, first + 60)).toEqual(guidBytes("8be4df61-93ca-11d2-aa0d-00e098032b8c"));
    expect(vars.toString("utf16le", first + 60, first + 60 + 16)).toBe("Boot0000");
    const size = 60 + 18 + loadOption(DEBIAN).length;
    const second = (first + size + 3) & ~3;
    expect(second % 4).toBe(0);
    expect(vars.readUInt16LE(second)).toBe(0x55aa);
    expect(vars.toString("utf16le", second + 60, second + 76)).toBe("Boot0001");
    // Only the store's erased space changed.
    const changed = differences(TEMPLATE, vars);
    expect(changed[0]).toBe(first);
    expect(changed.every((i) => TEMPLATE[i] === 0xff)).toBe(true);
    expect(readBootEntries(vars)).toEqual({
      order: [0, 1],
      entries: [
        { number: 0, name: "Boot0000", active: true, description: "debian", devicePath: "HD(1,GPT,0E8C3A3C-1D2B-4C5E-9F00-112233445566,0x800,0x100000)/\\EFI\\debian\\shimx64.efi", partition: { ...DEBIAN.partition, guid: "0E8C3A3C-1D2B-4C5E-9F00-112233445566" }, path: "\\EFI\\debian\\shimx64.efi" },
        { number: 1, name: "Boot0001", active: true, description: "debian (grub)", devicePath: "HD(1,GPT,0E8C3A3C-1D2B-4C5E-9F00-112233445566,0x800,0x100000)/\\EFI\\debian\\grubx64.efi", partition: { ...DEBIAN.partition, guid: "0E8C3A3C-1D2B-4C5E-9F00-112233445566" }, path: "\\EFI\\debian\\grubx64.efi" },
      ],
    });
  });

  it("in the Secure Boot template, keeps the enrolled keys and replaces its Boot0000 (marked deleted, not overwritten)", () => {
    const before = readBootEntries(MS_TEMPLATE);
    // Device paths read the way OVMF prints them.
    expect(before.entries.map((e) => [e.name, e.description, e.devicePath])).toEqual([
      ["Boot0000", "UiApp", "Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)"],
      ["Boot0001", "UEFI QEMU HARDDISK QM00001 ", "PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)"],
      ["Boot0002", "EFI Internal Shell", "Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(7C04A583-9E3E-4F1C-AD65-E05268D0B4D1)"],
    ]);
    expect(before.entries.map((e) => e.partition)).toEqual([null, null, null]);
    const vars = withBootEntries(MS_TEMPLATE, [DEBIAN]);
    const after = readBootEntries(vars);
    expect(after.order).toEqual([0]);
    expect(after.entries.filter((e) => e.number === 0).map((e) => e.description)).toEqual(["debian"]);
    expect(after.entries.filter((e) => e.number !== 0)).toEqual(before.entries.filter((e) => e.number !== 0));
    // The old Boot0000's header is still there, State VAR_ADDED & VAR_DELETED.
    const oldName = Buffer.from("Boot0000\0", "utf16le");
    const at = MS_TEMPLATE.indexOf(oldName) - 60;
    expect(MS_TEMPLATE[at + 2]).toBe(0x3f);
    expect(vars[at + 2]).toBe(0x3d);
    // Nothing else changed: the keys (PK, KEK, db, dbx) are byte for byte where they were; the rest was erased space.
    expect(MS_TEMPLATE.indexOf(Buffer.from("PK\0", "utf16le"))).toBeGreaterThan(0);
    const changed = differences(MS_TEMPLATE, vars);
    expect(changed[0]).toBe(at + 2);
    expect(changed.slice(1).every((i) => MS_TEMPLATE[i] === 0xff)).toBe(true);
  });

  it("writing twice leaves one live copy of each", () => {
    const twice = withBootEntries(withBootEntries(TEMPLATE, [DEBIAN, FALLBACK]), [FALLBACK]);
    expect(readBootEntries(twice)).toMatchObject({ order: [0], entries: [{ name: "Boot0001", description: "debian (grub)" }, { name: "Boot0000", description: "debian (grub)" }] });
  });

  it("reads the 2 MiB template too", () => {
    expect(readBootEntries(withBootEntries(readFileSync("/usr/share/OVMF/OVMF_VARS.fd"), [DEBIAN])).entries.map((e) => e.description)).toEqual(["debian"]);
  });

  it("refuses a template it does not understand, a damaged one, one without room, and no entries", () => {
    expect(ferryErrorOf(() => withBootEntries(Buffer.alloc(540672, 0xff), [DEBIAN])).message).toMatch(/no firmware volume signature \(_FVH\)/);
    expect(ferryErrorOf(() => withBootEntries(Buffer.alloc(16), [DEBIAN])).message).toMatch(/this is 16 bytes/);
    const otherFv = Buffer.from(TEMPLATE);
    otherFv[16] = otherFv[16]! ^ 1;
    expect(ferryErrorOf(() => withBootEntries(otherFv, [DEBIAN])).message).toMatch(/not the NV data volume/);
    const badSum = Buffer.from(TEMPLATE);
    badSum[44] = badSum[44]! ^ 0x10;
    expect(ferryErrorOf(() => withBootEntries(badSum, [DEBIAN])).message).toMatch(/checksum is wrong/);
    const plain = Buffer.from(TEMPLATE);
    guidBytes("ddcf3616-3275-4164-98b6-fe85707ffe7d").copy(plain, 72);
    const e = ferryErrorOf(() => withBootEntries(plain, [DEBIAN]));
    expect(e.code).toBe("uefi-vars.template");
    expect(e.message).toMatch(/not authenticated/);
    expect(e.hint).toMatch(/OVMF_VARS_4M\.fd/);
    const unhealthy = Buffer.from(TEMPLATE);
    unhealthy[72 + 21] = 0x00;
    expect(ferryErrorOf(() => withBootEntries(unhealthy, [DEBIAN])).message).toMatch(/not formatted and healthy/);
    const dirty = Buffer.from(TEMPLATE);
    dirty[200] = 0;
    expect(ferryErrorOf(() => withBootEntries(dirty, [DEBIAN])).message).toMatch(/not erased at offset 200/);
    const full = ferryErrorOf(() => withBootEntries(TEMPLATE, [{ ...DEBIAN, description: "x".repeat(140_000) }]));
    expect(full.code).toBe("uefi-vars.full");
    expect(full.message).toMatch(/has 262044 bytes free and the boot entries need \d+/);
    expect(ferryErrorOf(() => withBootEntries(TEMPLATE, [])).code).toBe("uefi-vars.entry");
    // A variable whose sizes run past the store is damage, not a variable.
    const runaway = withBootEntries(TEMPLATE, [DEBIAN]);
    runaway.writeUInt32LE(0x7fffffff, 100 + 40);
    expect(ferryErrorOf(() => readBootEntries(runaway)).message).toMatch(/runs past the end of the store/);
  });
});
