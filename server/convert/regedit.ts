import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { z } from "zod";
import { FerryError } from "../errors";

/**
 * Windows registry hives read and edited with hivex (python3-hivex), on a
 * hive file on this host: the conversion downloads SYSTEM and SOFTWARE from
 * the guest, edits them here and uploads them back; the test guests' hives
 * are filled the same way. Values cross to Python as hex bytes; encoding and
 * decoding (UTF-16LE strings, DWORDs) are pure functions here.
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

type Op = { op: "set"; key: KeyPath; name: string; t: number; data: string } | { op: "read"; key: KeyPath };

const HELPER = String.raw`
import hivex, json, sys
req = json.load(sys.stdin)
h = hivex.Hivex(req["hive"], write=req["write"])
def walk(path, create):
    n = h.root()
    for p in path:
        c = h.node_get_child(n, p)
        if c is None:
            if not create: return None
            c = h.node_add_child(n, p)
        n = c
    return n
out = []
for op in req["ops"]:
    if op["op"] == "set":
        n = walk(op["key"], True)
        h.node_set_value(n, {"key": op["name"], "t": op["t"], "value": bytes.fromhex(op["data"])})
        out.append(None)
    else:
        n = walk(op["key"], False)
        if n is None:
            out.append(None); continue
        vals = []
        for v in h.node_values(n):
            t, data = h.value_value(v)
            vals.append({"name": h.value_key(v), "t": t, "data": data.hex()})
        out.append({"values": vals, "subkeys": [h.node_name(c) for c in h.node_children(n)]})
if req["write"]: h.commit(None)
json.dump(out, sys.stdout)
`;

const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => existsSync(p)) ?? "python3";

function runHivex(hive: string, write: boolean, ops: Op[]): unknown[] {
  const r = spawnSync(PYTHON, ["-c", HELPER], { input: JSON.stringify({ hive, write, ops }), encoding: "utf8", maxBuffer: 64 * 1024 ** 2 });
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? r.stderr.trim().split("\n").slice(-1)[0] ?? "failed";
    const missing = /No module named 'hivex'/.test(r.stderr ?? "");
    throw new FerryError({ code: missing ? "hivex.missing" : "hivex.failed", message: `hivex on ${hive}: ${why}`, file: hive, hint: missing ? "install python3-hivex (scripts/setup.sh does)" : "the registry hive may be damaged; check it on VMware" });
  }
  return JSON.parse(r.stdout) as unknown[];
}

/** Read keys of a hive file (each null when absent). */
export function readKeys(hive: string, keys: KeyPath[]): Array<RegKey | null> {
  const out = runHivex(hive, false, keys.map((key) => ({ op: "read" as const, key })));
  return out.map((k) => {
    if (!k) return null;
    const raw = k as { values: Array<{ name: string; t: number; data: string }>; subkeys: string[] };
    return { values: raw.values.map((v) => ({ name: v.name, value: decodeValue(v.t, Buffer.from(v.data, "hex")) })), subkeys: raw.subkeys };
  });
}

export interface RegSet {
  key: KeyPath;
  /** "" is the key's default value. */
  name: string;
  value: RegValue;
}

/** Set values (creating missing keys on the way) and commit the hive in place. */
export function setValues(hive: string, sets: RegSet[]): void {
  if (!sets.length) return;
  runHivex(
    hive,
    true,
    sets.map((s) => ({ op: "set", key: s.key, name: s.name, t: REG_TYPES[s.value.type], data: encodeValue(s.value).toString("hex") })),
  );
}

/** A value of a key read by readKeys, by name (case-insensitive, as Windows compares). */
export function valueOf(key: RegKey | null, name: string): RegValue | null {
  return key?.values.find((v) => v.name.toLowerCase() === name.toLowerCase())?.value ?? null;
}
