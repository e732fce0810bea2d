import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { FerryError } from "../errors";
import { decodeValue, encodeValue, REG_TYPES, type KeyPath, type RegKey, type RegSet } from "./registry";

/**
 * Windows registry hives read and edited with hivex (python3-hivex), on a
 * hive file on this host: the conversion downloads SYSTEM and SOFTWARE from
 * the guest, edits them here and uploads them back; the test guests' hives
 * are filled the same way. Values cross to Python as hex bytes, encoded and
 * decoded by the pure functions in registry.ts.
 */

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

/** Set values (creating missing keys on the way) and commit the hive in place. */
export function setValues(hive: string, sets: RegSet[]): void {
  if (!sets.length) return;
  runHivex(
    hive,
    true,
    sets.map((s) => ({ op: "set", key: s.key, name: s.name, t: REG_TYPES[s.value.type], data: encodeValue(s.value).toString("hex") })),
  );
}
