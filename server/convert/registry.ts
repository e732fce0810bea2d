import { z } from "zod";

/**
 * Windows registry values as data: types, encoding to and decoding from
 * the bytes a hive stores (UTF-16LE strings, little-endian DWORDs), and how
 * a report shows them. Pure: hives are read and written by regedit.ts.
 */

export const REG_TYPES = { none: 0, sz: 1, expand_sz: 2, binary: 3, dword: 4, multi_sz: 7, qword: 11 } as const;
export type RegType = keyof typeof REG_TYPES;

export type RegValue =
  | { type: "sz" | "expand_sz"; value: string }
  | { type: "multi_sz"; value: string[] }
  | { type: "dword"; value: number }
  | { type: "binary" | "none" | "qword"; value: string /* hex */ };

export const RegValueRecord = z.object({ name: z.string(), type: z.string(), value: z.union([z.string(), z.number(), z.array(z.string())]) });

/** A key path below the hive's root, as hivex walks it (names compare case-insensitively). */
export type KeyPath = string[];

export function encodeValue(v: RegValue): Buffer {
  switch (v.type) {
    case "sz":
    case "expand_sz":
      return Buffer.from(`${v.value}\0`, "utf16le");
    case "multi_sz":
      return Buffer.from(`${v.value.map((s) => `${s}\0`).join("")}\0`, "utf16le");
    case "dword": {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v.value >>> 0);
      return b;
    }
    default:
      return Buffer.from(v.value, "hex");
  }
}

export function decodeValue(typeNumber: number, data: Buffer): RegValue {
  const type = (Object.entries(REG_TYPES).find(([, n]) => n === typeNumber)?.[0] ?? "binary") as RegType;
  const text = () => data.toString("utf16le", 0, data.length - (data.length % 2));
  switch (type) {
    case "sz":
    case "expand_sz":
      return { type, value: text().replace(/\0.*$/s, "") };
    case "multi_sz":
      return { type, value: text().split("\0").filter((s) => s !== "") };
    case "dword":
      return { type, value: data.length >= 4 ? data.readUInt32LE(0) : 0 };
    default:
      return { type, value: data.toString("hex") } as RegValue;
  }
}

/** A value's text as a report shows it (`REG_DWORD 0`, `REG_SZ "SCSI miniport"`). */
export function showValue(v: RegValue | null): string {
  if (v === null) return "(absent)";
  const t = `REG_${v.type.toUpperCase()}`;
  if (v.type === "dword") return `${t} ${v.value}`;
  if (v.type === "multi_sz") return `${t} [${v.value.map((s) => JSON.stringify(s)).join(", ")}]`;
  if (v.type === "sz" || v.type === "expand_sz") return `${t} ${JSON.stringify(v.value)}`;
  return `${t} ${v.value.length > 64 ? `${v.value.slice(0, 64)}…` : v.value}`;
}

/** One key as read: its values (decoded) and the names of its subkeys; null when the key does not exist. */
export interface RegKey {
  values: Array<{ name: string; value: RegValue }>;
  subkeys: string[];
}

export interface RegSet {
  key: KeyPath;
  /** "" is the key's default value. */
  name: string;
  value: RegValue;
}

/** A value of a key read by regedit.readKeys, by name (case-insensitive, as Windows compares). */
export function valueOf(key: RegKey | null, name: string): RegValue | null {
  return key?.values.find((v) => v.name.toLowerCase() === name.toLowerCase())?.value ?? null;
}
