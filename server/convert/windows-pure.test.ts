import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FerryError } from "../errors";
import { listVirtioWinTree, matchesGuest, pickVirtioWin, supportedWindows } from "./virtio-win";
import { readVirtioWin } from "./virtio-win-source";
import { ahciEdits, bootDriverEdits, vmwareEdits } from "./windows";
import type { WindowsFacts } from "./windows-facts";
import { firstbootScript, msiRemoval, networkScript, pairStaticInterfaces } from "./windows-firstboot";

const tmp = mkdtempSync(join(tmpdir(), "ferry-virtio-win-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ISO's layout and the RPM's (/usr/share/virtio-win/drivers/...), as virt-v2v's fake tree lists them. */
const ISO = ["viostor/w10/amd64/viostor.sys", "viostor/w10/amd64/viostor.inf", "viostor/w10/amd64/viostor.cat", "viostor/w10/amd64/viostor.pdb", "viostor/w10/x86/viostor.sys", "viostor/w10/x86/viostor.inf", "vioscsi/w10/amd64/vioscsi.sys", "vioscsi/w10/amd64/vioscsi.inf", "NetKVM/w10/amd64/netkvm.sys", "NetKVM/w10/amd64/netkvm.inf", "NetKVM/2k19/amd64/netkvm.inf", "sriov/w10/amd64/vioprot.inf", "Balloon/w10/amd64/blnsvr.exe", "guest-agent/qemu-ga-x86_64.msi", "guest-agent/qemu-ga-i386.msi", "viostor/2k8/amd64/viostor.sys", "viostor/2k8/amd64/viostor.inf"];
const RPM = ["drivers/amd64/Win2019/viostor.sys", "drivers/amd64/Win2019/viostor.inf", "drivers/by-os/amd64/2k19/netkvm.inf"];

describe("virtio-win: picking a guest's drivers from the tree's layout", () => {
  it("Windows 10 x64: viostor (not vioscsi) as the boot driver, without .pdb; NetKVM and blnsvr staged; the x64 guest agent", () => {
    const p = pickVirtioWin("/vw", ISO, "win10", "x86_64");
    expect(p.block).toEqual({ name: "viostor", files: ["viostor/w10/amd64/viostor.cat", "viostor/w10/amd64/viostor.inf", "viostor/w10/amd64/viostor.sys"] });
    expect(p.staged.map((d) => d.name)).toEqual(["netkvm", "blnsvr"]);
    expect(p.guestAgent).toBe("guest-agent/qemu-ga-x86_64.msi");
  });

  it("32-bit Windows 10 takes the x86 folder and the i386 agent", () => {
    const p = pickVirtioWin("/vw", ISO, "win10", "i386");
    expect(p.block!.files).toEqual(["viostor/w10/x86/viostor.inf", "viostor/w10/x86/viostor.sys"]);
    expect(p.guestAgent).toBe("guest-agent/qemu-ga-i386.msi");
  });

  it("SR-IOV's files and other Windows' folders never match; the RPM's folders do", () => {
    expect(matchesGuest("sriov/w10/amd64/vioprot.inf", "win10", "x86_64")).toBe(false);
    expect(matchesGuest("NetKVM/2k19/amd64/netkvm.inf", "win10", "x86_64")).toBe(false);
    expect(matchesGuest("drivers/amd64/Win2019/viostor.sys", "win2k19", "x86_64")).toBe(true);
    expect(matchesGuest("drivers/by-os/amd64/2k19/netkvm.inf", "win2k19", "x86_64")).toBe(true);
    expect(pickVirtioWin("/vw", RPM, "win2k19", "x86_64").block!.name).toBe("viostor");
  });

  it("a Windows the tree has no folder for (Server 2008, XP) gets no boot driver", () => {
    expect(pickVirtioWin("/vw", ISO, "win2k8", "x86_64").block).toBeNull();
    expect(pickVirtioWin("/vw", ISO, "winxp", "i386").block).toBeNull();
  });

  it("supportedWindows lists what the plan checks a guest against", () => {
    expect(supportedWindows(ISO)).toEqual(["win10/x86_64", "win10/i386"]);
    expect(supportedWindows(RPM)).toEqual(["win2k19/x86_64"]);
  });

  it("reads an unpacked tree, following links, and refuses what is not one with the fix", async () => {
    const tree = join(tmp, "tree");
    for (const f of ISO) {
      mkdirSync(join(tree, f, ".."), { recursive: true });
      writeFileSync(join(tree, f), "");
    }
    expect(listVirtioWinTree(tree)).toEqual([...ISO].sort());
    expect(await readVirtioWin(tree)).toEqual({ path: tree, supports: ["win10/x86_64", "win10/i386"] });
    const err = async (p: Promise<unknown>) => (await p.then(() => null, (e: unknown) => e)) as FerryError;
    expect((await err(readVirtioWin(join(tmp, "absent")))).code).toBe("virtio-win.missing");
    writeFileSync(join(tmp, "virtio-win.iso"), Buffer.alloc(40_000, 1));
    const notIso = await err(readVirtioWin(join(tmp, "virtio-win.iso")));
    expect([notIso.code, notIso.message]).toEqual(["virtio-win.not-a-tree", `virtio-win: ${join(tmp, "virtio-win.iso")} is not an ISO 9660 image`]);
    mkdirSync(join(tmp, "empty"));
    expect((await err(readVirtioWin(join(tmp, "empty")))).message).toMatch(/holds no viostor\.sys or vioscsi\.sys: it is not a virtio-win tree/);
  });
});

const facts = (o: Partial<WindowsFacts> = {}): WindowsFacts => ({
  systemRoot: "/Windows", controlSet: "ControlSet001", systemHive: "/Windows/System32/config/SYSTEM", softwareHive: "/Windows/System32/config/SOFTWARE",
  variant: "Client", osinfo: "win7", edition: null, build: "7601", bootPartition: "/dev/sda1", driverDatabase: false,
  ahci: { start: 4, overrides: {} }, vmwareServices: [], vmwareFilters: [], vmwareTools: [], staticInterfaces: [], ...o,
});

describe("registry edits (what the report lists)", () => {
  it("before Windows 8: viostor bound through CriticalDeviceDatabase for both virtio-blk PCI ids, no DriverDatabase", () => {
    const e = bootDriverEdits(facts(), "viostor", "x86_64");
    const cdb = e.filter((x) => x.key.includes("CriticalDeviceDatabase"));
    expect(cdb.map((x) => [x.key.join("\\"), x.name, x.value])).toEqual([
      ["ControlSet001\\Control\\CriticalDeviceDatabase\\PCI#VEN_1AF4&DEV_1001&REV_00", "Service", { type: "sz", value: "viostor" }],
      ["ControlSet001\\Control\\CriticalDeviceDatabase\\PCI#VEN_1AF4&DEV_1001&REV_00", "ClassGUID", { type: "sz", value: "{4D36E97B-E325-11CE-BFC1-08002BE10318}" }],
      ["ControlSet001\\Control\\CriticalDeviceDatabase\\PCI#VEN_1AF4&DEV_1042&REV_01", "Service", { type: "sz", value: "viostor" }],
      ["ControlSet001\\Control\\CriticalDeviceDatabase\\PCI#VEN_1AF4&DEV_1042&REV_01", "ClassGUID", { type: "sz", value: "{4D36E97B-E325-11CE-BFC1-08002BE10318}" }],
    ]);
    expect(e.some((x) => x.key[0] === "DriverDatabase")).toBe(false);
    expect(e.find((x) => x.name === "Start")!.value).toEqual({ type: "dword", value: 0 });
  });

  it("32-bit Windows 8+: the DriverDatabase package label says x86", () => {
    expect(bootDriverEdits(facts({ driverDatabase: true }), "viostor", "i386").some((x) => x.key.join("\\").includes("ferry-virtio-storage.inf_x86_0000000000000000"))).toBe(true);
  });

  it("storahci: Start 0 and every StartOverride value 0", () => {
    expect(ahciEdits(facts({ ahci: { start: 3, overrides: { "0": 3, "1": 3 } } })).map((x) => [x.key.at(-1), x.name, x.value])).toEqual([
      ["storahci", "Start", { type: "dword", value: 0 }],
      ["StartOverride", "0", { type: "dword", value: 0 }],
      ["StartOverride", "1", { type: "dword", value: 0 }],
    ]);
  });

  it("VMware: services already off are left alone; filter lists keep Windows' own drivers", () => {
    const e = vmwareEdits(facts({ vmwareServices: [{ name: "VMTools", start: 2 }, { name: "vmci", start: 4 }], vmwareFilters: [{ classGuid: "{kbd}", value: "UpperFilters", list: ["kbdclass", "vmkbd", "vmusbmouse"] }] }));
    expect(e.map((x) => [x.key.at(-1), x.name, x.value])).toEqual([
      ["VMTools", "Start", { type: "dword", value: 4 }],
      ["{kbd}", "UpperFilters", { type: "multi_sz", value: ["kbdclass", "vmkbd"] }],
    ]);
  });
});

describe("the first boot", () => {
  const nic = { sourceId: "ethernet0", mac: "00:50:56:aa:bb:01", vmwareName: "ens192", kvmName: "enp1s0" };
  const settings = { guid: "{G}", adapter: "vmxnet3", addresses: ["10.0.0.5/24"], gateways: ["10.0.0.1"], dns: ["10.0.0.2"] };

  it("static settings go to the one NIC; with two NICs or two static interfaces they are not guessed", () => {
    expect(pairStaticInterfaces([nic], [settings]).assigned).toEqual([{ mac: nic.mac, nic: "ethernet0", settings }]);
    expect(pairStaticInterfaces([nic, { ...nic, sourceId: "ethernet1", mac: "00:50:56:aa:bb:02" }], [settings])).toEqual({ assigned: [], unpaired: [settings] });
    expect(pairStaticInterfaces([nic], [settings, { ...settings, guid: "{H}" }]).assigned).toEqual([]);
  });

  it("only an exact MSI removal reaches the script: anything else from the registry is refused", () => {
    expect(msiRemoval("MsiExec.exe /X{7E4C5B2A-1C0D-4E3B-9A8F-5D6E7F8A9B0C}")).toBe("msiexec /x {7E4C5B2A-1C0D-4E3B-9A8F-5D6E7F8A9B0C} /qn /norestart");
    expect(msiRemoval("MsiExec.exe /X{7E4C5B2A-1C0D-4E3B-9A8F-5D6E7F8A9B0C} & format c:")).toBeNull();
    expect(msiRemoval('"C:\\Program Files\\VMware\\uninstall.exe"')).toBeNull();
  });

  it("the network script carries only well-formed addresses", () => {
    const bad = networkScript([{ mac: nic.mac, nic: "ethernet0", settings: { ...settings, addresses: ["10.0.0.5'; Remove-Item C:\\ -Recurse; '/24"], dns: ["x"] } }]);
    expect(bad).toBeNull();
    const ok = networkScript([{ mac: nic.mac, nic: "ethernet0", settings: { ...settings, dns: ["10.0.0.2", "evil'"] } }])!;
    expect(ok).toContain("-ServerAddresses '10.0.0.2'\r\n");
    expect(ok).not.toContain("evil");
  });

  it("Windows 7's pnputil syntax; no drivers, no pnputil", () => {
    expect(firstbootScript({ modernPnputil: false, stagedDrivers: true, toolsRemovals: [], network: false, guestAgent: null })).toContain('pnputil -i -a "%SystemRoot%\\Drivers\\VirtIO\\*.inf"');
    const none = firstbootScript({ modernPnputil: true, stagedDrivers: false, toolsRemovals: [], network: false, guestAgent: null });
    expect(none).not.toContain("pnputil");
    expect(none).toContain("sc delete FerryFirstboot");
  });
});
