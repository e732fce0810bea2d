/**
 * Property tests of the VMX reader. `npm test` runs a short pass;
 * `npm run fuzz` sets FERRY_FUZZ_RUNS=100000.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FerryError } from "../../server/errors";
import { buildTree, lexVmx, printVmx, readVmx, SourceVm } from "../../server/vmx";

const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 1000);
const TIMEOUT = Math.max(60_000, RUNS * 5);

const enc = new TextEncoder();

/** Lines that look like VMX, with the quirks the reader must survive. */
const keySegment = fc.oneof(
  fc.constantFrom("scsi0", "scsi0:0", "ide1:0", "sata0:1", "nvme0:0", "ethernet0", "ethernet1", "floppy0", "displayName", "memsize", "numvcpus", "firmware", "guestOS", "cpuid", "vtpm", "usb", "pciPassthru0", "uuid", "vm", ".encoding", ""),
  fc.constantFrom("present", "fileName", "deviceType", "virtualDev", "addressType", "generatedAddress", "address", "networkName", "mode", "coresPerSocket", "bios", "genid", "genidX", "sharedBus", "startConnected"),
  fc.stringMatching(/^[A-Za-z0-9_:-]{1,8}$/),
);
const key = fc.array(keySegment, { minLength: 1, maxLength: 4 }).map((segs) => segs.join("."));
const value = fc.oneof(
  fc.constantFrom("TRUE", "FALSE", "true", "false", "efi", "bios", "4", "0", "-1", "3", "pvscsi", "vmxnet3", "static", "generated", "00:50:56:aa:bb:cc", "a.vmdk", "cdrom-image", "scsi-hardDisk", "rawDisk", "UTF-8", "Shift_JIS", "windows-1252", "nonsense-enc"),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
);
const line = fc.oneof(
  fc.tuple(key, value).map(([k, v]) => `${k} = "${v}"`),
  fc.tuple(key, value).map(([k, v]) => `  ${k}=${v}`),
  fc.tuple(key, value, fc.string({ maxLength: 5 })).map(([k, v, t]) => `${k} = "${v}" ${t}`),
  fc.constantFrom("# comment", "", "garbage line", "=", '= "x"', "key =", "\r"),
);
const vmxText = fc.tuple(fc.array(line, { maxLength: 40 }), fc.constantFrom("\n", "\r\n", "\r")).map(([ls, eol]) => ls.join(eol));

function readsOrRefuses(bytes: Uint8Array): void {
  const r = readVmx(bytes, { vmxPath: "/nas/fuzz/g.vmx", exists: () => false });
  if (r.ok) {
    SourceVm.parse(r.vm);
  } else {
    expect(r.error).toBeInstanceOf(FerryError);
    expect(r.error.code).toMatch(/^vmx\.[a-z-]+$/);
    expect(r.error.code).not.toBe("vmx.internal");
  }
}

describe("VMX reader properties", () => {
  it("never throws on arbitrary bytes: a SourceVm or a typed error", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), readsOrRefuses), { numRuns: RUNS });
  }, TIMEOUT);

  it("never throws on VMX-like text: a valid SourceVm or a typed error", () => {
    fc.assert(fc.property(vmxText, (t) => readsOrRefuses(enc.encode(t))), { numRuns: RUNS });
  }, TIMEOUT);

  it("never throws on VMX-like text in other charsets with stray bytes", () => {
    const charset = fc.constantFrom("windows-1252", "Shift_JIS", "GBK", "UTF-8", "x-unknown");
    fc.assert(
      fc.property(charset, vmxText, fc.uint8Array({ minLength: 1, maxLength: 8 }).filter((b) => !b.includes(0)), (cs, t, stray) => {
        const head = enc.encode(`.encoding = "${cs}"\ndisplayName = "`);
        readsOrRefuses(new Uint8Array([...head, ...stray, ...enc.encode(`"\n${t}`)]));
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("prints a tree back to VMX text that parses to the same tree", () => {
    fc.assert(
      fc.property(vmxText, (t) => {
        let first;
        try {
          first = buildTree(lexVmx(enc.encode(t))).tree;
        } catch (e) {
          expect(e).toBeInstanceOf(FerryError);
          return;
        }
        const second = buildTree(lexVmx(enc.encode(printVmx(first)))).tree;
        expect(second.toRecord()).toEqual(first.toRecord());
        const keys = (t: typeof first) => t.entries.filter((e) => e.path.join(".") !== ".encoding").map((e) => e.key);
        expect(keys(second)).toEqual(keys(first));
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("round-trips any key/value pairs, whatever characters the values hold", () => {
    const pair = fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_:.-]{0,12}$/), fc.string({ unit: "grapheme", maxLength: 30 }));
    fc.assert(
      fc.property(fc.uniqueArray(pair, { selector: ([k]) => k.toLowerCase(), maxLength: 20 }), (pairs) => {
        const record = Object.fromEntries(pairs.map(([k, v]) => [k.toLowerCase(), v]));
        const lines = pairs.map(([k, v]) => ({ key: k, path: k.toLowerCase().split("."), value: v, line: 1 }));
        const text = printVmx(buildTree({ entries: lines, charset: null as never, encodingLine: null, warnings: [] }).tree);
        if (pairs.length === 0) return;
        const back = buildTree(lexVmx(enc.encode(text))).tree;
        // present = FALSE prunes; compare what survives in both.
        const expected = buildTree({ entries: lines, charset: null as never, encodingLine: null, warnings: [] }).tree.toRecord();
        expect(back.toRecord()).toEqual(expected);
        expect(Object.keys(record).length).toBeGreaterThanOrEqual(Object.keys(expected).length);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);
});
