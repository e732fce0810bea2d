import { describe, expect, it } from "vitest";
import { FerryError } from "../errors";
import { lexVmx, MAX_VMX_BYTES } from "./lexer";

const enc = (s: string) => new TextEncoder().encode(s);
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...enc(p)] : p)));

function refused(input: Uint8Array): FerryError {
  try {
    lexVmx(input, "/nas/g/g.vmx");
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error("expected the reader to refuse this input");
}

describe("lexVmx: lines", () => {
  it("reads key = \"value\" lines, CRLF, comments, blank lines and a BOM", () => {
    const r = lexVmx(bytes([0xef, 0xbb, 0xbf], '#!/usr/bin/vmware\r\n\r\n# a comment\r\ndisplayName = "web01"\r\nmemsize = "1024"\r\n'));
    expect(r.entries.map((e) => [e.key, e.value, e.line])).toEqual([
      ["displayName", "web01", 4],
      ["memsize", "1024", 5],
    ]);
    expect(r.warnings).toEqual([]);
  });

  it("tolerates an unquoted value (Packer) with a warning naming the line", () => {
    const r = lexVmx(enc('displayName = "a"\nmemsize = 2048\n'));
    expect(r.entries[1]).toMatchObject({ key: "memsize", value: "2048", line: 2 });
    expect(r.warnings).toEqual([expect.objectContaining({ code: "vmx.syntax.unquoted", line: 2 })]);
  });

  it("tolerates leading white space with a warning", () => {
    const r = lexVmx(enc('  \tmemsize = "512"\n'));
    expect(r.entries[0]).toMatchObject({ key: "memsize", value: "512" });
    expect(r.warnings).toEqual([expect.objectContaining({ code: "vmx.syntax.indented", line: 1 })]);
  });

  it("ignores text after the closing quote, with a warning", () => {
    const r = lexVmx(enc('memsize = "512" extra stuff\n'));
    expect(r.entries[0]!.value).toBe("512");
    expect(r.warnings).toEqual([expect.objectContaining({ code: "vmx.syntax.trailing-text", line: 1 })]);
  });

  it("reads an unterminated quote to the end of the line, with a warning", () => {
    const r = lexVmx(enc('displayName = "open ended\n'));
    expect(r.entries[0]!.value).toBe("open ended");
    expect(r.warnings[0]).toMatchObject({ code: "vmx.syntax.unterminated", line: 1 });
  });

  it("skips a line that is not key = value, with a warning", () => {
    const r = lexVmx(enc('this is not a setting\nmemsize = "64"\n'));
    expect(r.entries).toHaveLength(1);
    expect(r.warnings).toEqual([expect.objectContaining({ code: "vmx.syntax.not-key-value", line: 1 })]);
  });

  it("takes only ASCII white space as a separator (UTF-8 à ends in byte 0xA0)", () => {
    const r = lexVmx(enc('displayNàme = "x"\nnote = à bientôt\n'));
    expect(r.entries.map((e) => [e.key, e.value])).toEqual([["displayNàme", "x"], ["note", "à bientôt"]]);
  });

  it("keeps the key's case and splits the path on dots only", () => {
    const r = lexVmx(enc('scsi0:0.fileName = "Disk.vmdk"\n'));
    expect(r.entries[0]).toMatchObject({ key: "scsi0:0.fileName", path: ["scsi0:0", "filename"], value: "Disk.vmdk" });
  });
});

describe("lexVmx: escapes and charsets", () => {
  it("decodes |XX escapes; any other | is literal", () => {
    const r = lexVmx(enc('annotation = "say |22hi|22 |7C pipe|0Anext | alone |zz"\n'));
    expect(r.entries[0]!.value).toBe('say "hi" | pipe\nnext | alone |zz');
  });

  it("decodes escapes to bytes before the charset, so escaped UTF-8 comes out whole", () => {
    const r = lexVmx(enc('annotation = "caf|C3|A9"\n'));
    expect(r.entries[0]!.value).toBe("café");
  });

  it("applies .encoding to every value, even those before it", () => {
    const r = lexVmx(bytes('displayName = "Caf', [0xe9], '"\n.encoding = "windows-1252"\n'));
    expect(r.charset.name).toBe("windows-1252");
    expect(r.entries[0]!.value).toBe("Café");
  });

  it("reads Shift_JIS and GBK", () => {
    const sjis = lexVmx(bytes('.encoding = "Shift_JIS"\ndisplayName = "', [0x83, 0x65, 0x83, 0x58, 0x83, 0x67], '"\n'));
    expect(sjis.entries[1]!.value).toBe("テスト");
    const gbk = lexVmx(bytes('.encoding = "GBK"\ndisplayName = "', [0xb2, 0xe2, 0xca, 0xd4], '"\n'));
    expect(gbk.entries[1]!.value).toBe("测试");
  });

  it("falls back to UTF-8 for an unknown charset, with a warning", () => {
    const r = lexVmx(enc('.encoding = "klingon-1"\ndisplayName = "ok"\n'));
    expect(r.charset.name).toBe("UTF-8");
    expect(r.warnings).toEqual([expect.objectContaining({ code: "vmx.encoding.unknown", line: 1 })]);
  });

  it("warns about bytes that are not valid in the charset", () => {
    const r = lexVmx(bytes('displayName = "bad', [0xff], '"\n'));
    expect(r.entries[0]!.value).toBe("bad\uFFFD");
    expect(r.warnings).toEqual([expect.objectContaining({ code: "vmx.encoding.invalid", line: 1 })]);
  });
});

describe("lexVmx: refusals", () => {
  it("refuses a hosted sparse VMDK (KDMV)", () => {
    expect(refused(bytes("KDMV", [1, 0, 0, 0])).code).toBe("vmx.is-vmdk");
  });

  it("refuses an ESX sparse VMDK (COWD)", () => {
    expect(refused(bytes("COWD", [1, 0, 0, 0])).code).toBe("vmx.is-vmdk");
  });

  it("refuses a VMDK descriptor and names its line", () => {
    const e = refused(enc('\n\n# Disk DescriptorFile\nversion=1\n'));
    expect(e).toMatchObject({ code: "vmx.is-vmdk", file: "/nas/g/g.vmx", line: 3 });
    expect(e.hint).toMatch(/\.vmx/);
  });

  it("refuses binary content and names the line of the NUL byte", () => {
    const e = refused(bytes('displayName = "a"\nmem', [0], 'size = "1"\n'));
    expect(e).toMatchObject({ code: "vmx.binary", line: 2 });
  });

  it("refuses a file over 4 MiB", () => {
    const big = new Uint8Array(MAX_VMX_BYTES + 1).fill(0x23);
    expect(refused(big).code).toBe("vmx.too-large");
  });

  it("accepts a file of exactly 4 MiB", () => {
    const head = enc('memsize = "1"\n');
    const b = new Uint8Array(MAX_VMX_BYTES).fill(0x0a);
    b.set(head);
    expect(lexVmx(b).entries).toHaveLength(1);
  });

  it("refuses a file with no key/value line", () => {
    expect(refused(enc("# only a comment\n\njunk\n")).code).toBe("vmx.no-entries");
    expect(refused(new Uint8Array()).code).toBe("vmx.no-entries");
  });
});
