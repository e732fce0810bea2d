import { describe, expect, it } from "vitest";
import { lexVmx } from "./lexer";
import { buildTree, printVmx } from "./tree";

const tree = (text: string) => buildTree(lexVmx(new TextEncoder().encode(text)));

describe("buildTree", () => {
  it("looks keys up without case", () => {
    const { tree: t } = tree('DisplayName = "Web01"\nSCSI0:0.FILENAME = "Web01.vmdk"\n');
    expect(t.get("displayname")?.value).toBe("Web01");
    expect(t.get("scsi0:0.fileName")?.value).toBe("Web01.vmdk");
  });

  it("keeps the first of duplicate keys, with a warning naming both lines", () => {
    const { tree: t, warnings } = tree('memsize = "1024"\nMEMSIZE = "2048"\n');
    expect(t.get("memsize")?.value).toBe("1024");
    expect(warnings).toEqual([expect.objectContaining({ code: "vmx.syntax.duplicate", line: 2 })]);
    expect(warnings[0]!.message).toMatch(/line 1/);
  });

  it("holds a value and children on one node", () => {
    const { tree: t } = tree('cpuid.coresPerSocket = "2"\ncpuid.coresPerSocket.cookie = "1"\n');
    expect(t.get("cpuid.coresPerSocket")?.value).toBe("2");
    expect(t.get("cpuid.coresPerSocket.cookie")?.value).toBe("1");
  });

  it("removes a namespace whose present is FALSE, in any case, at any depth", () => {
    const { tree: t } = tree(
      [
        'ethernet0.present = "false"',
        'ethernet0.networkName = "LAN"',
        'ethernet0.dvs.portId = "5"',
        'ethernet1.present = "TRUE"',
        'ethernet1.filter0.present = "FaLsE"',
        'ethernet1.filter0.name = "x"',
        'ethernet1.networkName = "DMZ"',
      ].join("\n"),
    );
    expect(t.node("ethernet0")).toBeUndefined();
    expect(t.get("ethernet1.filter0.name")).toBeUndefined();
    expect(t.get("ethernet1.networkName")?.value).toBe("DMZ");
    expect(t.absent.map((a) => [a.key, a.line])).toEqual([
      ["ethernet0", 1],
      ["ethernet1.filter0", 5],
    ]);
  });

  it("lists every line under a namespace", () => {
    const { tree: t } = tree('a = "1"\nscsi0:0.present = "TRUE"\nb = "2"\nscsi0:0.fileName = "d.vmdk"\n');
    expect(t.linesUnder("scsi0:0")).toEqual([2, 4]);
  });
});

describe("printVmx", () => {
  it("prints a tree that parses back to the same tree, escapes and charset included", () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('.encoding = "windows-1252"\ndisplayName = "Caf'),
      0xe9,
      ...new TextEncoder().encode(' |22quoted|22 |7C #1"\nannotation = "two|0Alines"\n'),
    ]);
    const first = buildTree(lexVmx(bytes)).tree;
    const text = printVmx(first);
    expect(text).toContain('.encoding = "UTF-8"');
    const second = buildTree(lexVmx(new TextEncoder().encode(text))).tree;
    expect(second.toRecord()).toEqual(first.toRecord());
    expect(second.get("displayName")?.value).toBe('Café "quoted" | #1');
  });
});
