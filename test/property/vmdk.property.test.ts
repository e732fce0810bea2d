/** Property tests of the VMDK readers and the path checks: never a crash, only typed errors. */
import fc from "fast-check";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FerryError } from "../../server/errors";
import { checkName, parseDescriptor, parseSparseHeader } from "../../server/vmdk";
import { kdmvAllocation } from "../../server/vmdk/grains";
import { resolveInShare } from "../../server/shares";

const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 1000);
const TIMEOUT = Math.max(60_000, RUNS * 5);
const enc = new TextEncoder();

function typedOnly(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    expect((e as FerryError).code).toMatch(/^[a-z]+\.[a-z.-]+$/);
  }
}

const descriptorLine = fc.oneof(
  fc.constantFrom("# Disk DescriptorFile", "version=1", 'encoding="UTF-8"', 'encoding="Shift_JIS"', "CID=fffffffe", "parentCID=ffffffff", 'createType="monolithicSparse"', 'createType="vmfs"', 'parentFileNameHint="../x.vmdk"', 'ddb.adapterType = "lsilogic"', "# Extent description", ""),
  fc.tuple(fc.constantFrom("RW", "RDONLY", "NOACCESS", "rw", "XX"), fc.oneof(fc.nat(), fc.constant(2 ** 60)), fc.constantFrom("FLAT", "SPARSE", "ZERO", "VMFS", "VMFSSPARSE", "SESPARSE", "VMFSRDM", "BOGUS"), fc.string({ maxLength: 20 }), fc.option(fc.nat())).map(
    ([a, n, t, f, o]) => `${a} ${n} ${t} "${f}"${o === null ? "" : ` ${o}`}`,
  ),
  fc.string({ maxLength: 40 }),
);

describe("VMDK reader properties", () => {
  it("parseDescriptor: a descriptor or a typed error, for arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => typedOnly(() => parseDescriptor(b, "/nas/g/d.vmdk"))), { numRuns: RUNS });
  }, TIMEOUT);

  it("parseDescriptor: a descriptor or a typed error, for descriptor-like text", () => {
    fc.assert(fc.property(fc.array(descriptorLine, { maxLength: 30 }), (lines) => typedOnly(() => parseDescriptor(enc.encode(lines.join("\n")), "/nas/g/d.vmdk"))), { numRuns: RUNS });
  }, TIMEOUT);

  it("parseSparseHeader and grain counting: never a crash or a hang on arbitrary headers and tables", async () => {
    const magic = fc.constantFrom("KDMV", "COWD", "\xbe\xba\xfe\xca\0\0\0\0", "XXXX");
    await fc.assert(
      fc.asyncProperty(magic, fc.uint8Array({ minLength: 508, maxLength: 508 }), fc.uint8Array({ maxLength: 8192 }), async (m, rest, file) => {
        const head = new Uint8Array(512);
        head.set(Uint8Array.from(m, (c) => c.charCodeAt(0)));
        head.set(rest.subarray(0, 512 - 4), 4);
        let h;
        try {
          h = parseSparseHeader(head, "/nas/g/d.vmdk");
        } catch (e) {
          typedOnly(() => {
            throw e;
          });
          return;
        }
        if (h.kind === "KDMV") {
          const all = new Uint8Array(512 + file.length);
          all.set(head);
          all.set(file, 512);
          const a = await kdmvAllocation(h, all.length, (off, len) => all.subarray(Math.min(off, all.length), Math.min(off + len, all.length)));
          expect(a.bytes).toBeGreaterThanOrEqual(0);
          expect(a.bytes).toBeLessThanOrEqual(h.capacitySectors * 512);
        }
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("checkName: refuses every protocol prefix and .. segment, accepts plain names", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}$/), fc.string({ maxLength: 20 }), (proto, rest) => {
        expect(() => checkName(`${proto}:${rest}`, { file: "/d" }, "extent")).toThrow(FerryError);
        expect(() => checkName(`a/../${rest}`, { file: "/d" }, "extent")).toThrow(FerryError);
      }),
      { numRuns: RUNS },
    );
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9 _-]{1,30}\.vmdk$/), (name) => checkName(name, { file: "/d" }, "extent")), { numRuns: Math.min(RUNS, 1000) });
  }, TIMEOUT);
});

describe("share path properties", () => {
  const root = mkdtempSync(join(tmpdir(), "ferry-fuzz-share-"));
  mkdirSync(join(root, "a", "b"), { recursive: true });
  writeFileSync(join(root, "a", "b", "g.vmx"), "x");
  const share = { name: "s", path: root, readOnly: true, datastores: [] };
  it("resolveInShare: inside the share, or a typed refusal, whatever the path", async () => {
    const segment = fc.oneof(fc.constantFrom("a", "b", "g.vmx", "..", ".", "", "/", "\0", "etc", "%2e%2e"), fc.string({ maxLength: 8 }));
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 8 }), async (segs) => {
        const rel = segs.join("/");
        try {
          const p = await resolveInShare(share, rel);
          expect(p.abs === root || p.abs.startsWith(root + "/")).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(FerryError);
        }
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);
});
