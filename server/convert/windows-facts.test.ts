import { describe, expect, it } from "vitest";
import { ferryErrorOf } from "../../test/fixtures/errors";
import type { RegKey } from "./registry";
import { judgeNtfsProbe, prefixLength, refuseOldWindows, refuseVolumes, staticInterface, vmwareToolsEntries, type VolumeFacts } from "./windows-facts";

const key = (values: RegKey["values"]): RegKey => ({ values, subkeys: [] });
const vol = (o: Partial<VolumeFacts>): VolumeFacts => ({ device: "/dev/sda1", fsType: "ntfs", mbrId: 0x07, gptType: null, ntfsProbe: 0, ...o });

describe("static IPv4 settings from Tcpip\\Parameters\\Interfaces", () => {
  it("reads addresses with their prefix, gateways and DNS servers", () => {
    const k = key([
      { name: "EnableDHCP", value: { type: "dword", value: 0 } },
      { name: "IPAddress", value: { type: "multi_sz", value: ["10.0.0.5", "10.0.1.5"] } },
      { name: "SubnetMask", value: { type: "multi_sz", value: ["255.255.255.0", "255.255.0.0"] } },
      { name: "DefaultGateway", value: { type: "multi_sz", value: ["10.0.0.1"] } },
      { name: "NameServer", value: { type: "sz", value: "10.0.0.2,10.0.0.3" } },
    ]);
    expect(staticInterface("{G}", k, "vmxnet3 Ethernet Adapter")).toEqual({ guid: "{G}", adapter: "vmxnet3 Ethernet Adapter", addresses: ["10.0.0.5/24", "10.0.1.5/16"], gateways: ["10.0.0.1"], dns: ["10.0.0.2", "10.0.0.3"] });
  });

  it("a DHCP interface, or one without an address, has no static settings", () => {
    expect(staticInterface("{G}", key([{ name: "EnableDHCP", value: { type: "dword", value: 1 } }, { name: "IPAddress", value: { type: "multi_sz", value: ["10.0.0.5"] } }]), null)).toBeNull();
    expect(staticInterface("{G}", key([{ name: "EnableDHCP", value: { type: "dword", value: 0 } }, { name: "IPAddress", value: { type: "multi_sz", value: ["0.0.0.0"] } }]), null)).toBeNull();
    expect(staticInterface("{G}", null, null)).toBeNull();
  });

  it("subnet masks become prefix lengths; a mask with holes is not one", () => {
    expect([prefixLength("255.255.255.0"), prefixLength("255.255.255.255"), prefixLength("0.0.0.0"), prefixLength("255.0.255.0"), prefixLength("x")]).toEqual([24, 32, 0, null, null]);
  });
});

describe("VMware Tools' uninstall entries", () => {
  it("finds them by DisplayName and turns an MSI repair (/I) into a removal (/X)", () => {
    const entries = [
      { key: key([{ name: "DisplayName", value: { type: "sz", value: "VMware Tools" } }, { name: "UninstallString", value: { type: "sz", value: "MsiExec.exe /I{ABC}" } }]) },
      { key: key([{ name: "DisplayName", value: { type: "sz", value: "7-Zip" } }, { name: "UninstallString", value: { type: "sz", value: "u.exe" } }]) },
      { key: null },
    ];
    expect(vmwareToolsEntries(entries)).toEqual([{ name: "VMware Tools", uninstall: "MsiExec.exe /X{ABC}" }]);
  });
});

describe("refusals from the guest's volumes", () => {
  it("BitLocker: names the volume and says how to decrypt it", () => {
    const e = ferryErrorOf(() => refuseVolumes([vol({}), vol({ device: "/dev/sdb1", fsType: "BitLocker" })]));
    expect(e.code).toBe("convert.bitlocker");
    expect(e.message).toMatch(/^\/dev\/sdb1 is encrypted with BitLocker/);
    expect(e.hint).toMatch(/manage-bde -off/);
  });

  it("a dynamic disk, by MBR type 0x42 or GPT's LDM type", () => {
    expect(ferryErrorOf(() => refuseVolumes([vol({ mbrId: 0x42 })])).message).toMatch(/dynamic disk \(Logical Disk Manager, MBR partition type 0x42\)/);
    expect(ferryErrorOf(() => refuseVolumes([vol({ mbrId: null, gptType: "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3" })])).code).toBe("convert.dynamic-disk");
  });

  it("hibernation and an unclean NTFS by ntfs-3g.probe's exit code", () => {
    expect(ferryErrorOf(() => refuseVolumes([vol({ ntfsProbe: 14 })])).code).toBe("convert.windows-hibernated");
    expect(ferryErrorOf(() => refuseVolumes([vol({ ntfsProbe: 15 })])).code).toBe("convert.windows-unclean");
    expect(judgeNtfsProbe("/dev/sda1", 14)!.hint).toMatch(/powercfg \/h off/);
    expect(judgeNtfsProbe("/dev/sda1", 0)).toBeNull();
    expect(judgeNtfsProbe("/dev/sda1", 19)!.id).toBe("convert.ntfs-unmountable");
  });

  it("clean basic NTFS volumes pass", () => {
    expect(() => refuseVolumes([vol({}), vol({ fsType: "vfat", ntfsProbe: null })])).not.toThrow();
  });
});

describe("Windows versions", () => {
  it("7 / 2008 R2 (NT 6.1) and later pass; Vista, 2008, XP, 2003 are refused with the version named", () => {
    expect(() => refuseOldWindows("Windows 7", 6, 1)).not.toThrow();
    expect(() => refuseOldWindows("Windows 10 Pro", 10, 0)).not.toThrow();
    const e = ferryErrorOf(() => refuseOldWindows("Windows Server 2008", 6, 0));
    expect(e.code).toBe("convert.windows-too-old");
    expect(e.message).toBe("Windows Server 2008 is Windows NT 6.0; Ferry converts Windows 7 / Server 2008 R2 (NT 6.1) and later, as current virtio-win releases do");
    expect(ferryErrorOf(() => refuseOldWindows("", 5, 2)).message).toMatch(/^this Windows is Windows NT 5\.2/);
  });
});
