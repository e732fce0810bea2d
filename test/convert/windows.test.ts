import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Appliance } from "../../server/convert/appliance";
import type { WindowsConversionReport } from "../../server/convert/guest";
import { readKeys } from "../../server/convert/regedit";
import { valueOf, type KeyPath, type RegKey } from "../../server/convert/registry";
import { readVirtioWin } from "../../server/convert/virtio-win-source";
import { FerryError } from "../../server/errors";
import { inspectGuest } from "../../server/input/inspect-guest";
import { planTarget } from "../../server/plan";
import { fingerprint } from "../fixtures/fingerprint";
import { makeVirtioWinTree, WINDOWS_GUEST, windowsGuests, type WindowsGuests } from "../fixtures/windows-guest";
import { run as cli } from "../../server/cli/main";
import { eventOf, run, type Run } from "./helpers";

/**
 * The phony Windows 10 guest (test/fixtures/windows-guest.ts) converted by
 * the real pipeline, then its output disk read back: the hives with hivex,
 * the files with libguestfs. No Windows boots here: what Windows does with
 * these changes is not proven by these tests.
 */

const tmp = mkdtempSync(join(tmpdir(), "ferry-windows-"));
let guests: WindowsGuests;
let tree: string;
beforeAll(async () => {
  guests = await windowsGuests();
  tree = makeVirtioWinTree(join(tmp, "virtio-win"));
}, 10 * 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CS = "ControlSet001";

interface ReadBack {
  system: (key: KeyPath) => RegKey | null;
  software: (key: KeyPath) => RegKey | null;
  files: Set<string>;
  text: (path: string) => string;
}

/** The converted disk, read back: both hives (read here with hivex) and the files the conversion wrote. */
async function readBack(raw: string, paths: string[]): Promise<ReadBack> {
  const dir = mkdtempSync(join(tmp, "readback-"));
  const app = await Appliance.launch({ drives: [{ path: raw, format: "raw", readonly: true }] });
  const texts = new Map<string, string>();
  const files = new Set<string>();
  try {
    await app.call("mount_ro", "/dev/sda1", "/");
    await app.call("download", "/Windows/System32/config/SYSTEM", join(dir, "SYSTEM"));
    await app.call("download", "/Windows/System32/config/SOFTWARE", join(dir, "SOFTWARE"));
    for (const p of paths) {
      if (await app.call<boolean>("is_file", p)) {
        files.add(p);
        texts.set(p, await app.call<string>("read_file", p));
      }
    }
    for (const f of await app.call<string[]>("find", "/Windows")) files.add(`/Windows/${f.replace(/^\//, "")}`);
  } finally {
    await app.close();
  }
  return {
    system: (key) => readKeys(join(dir, "SYSTEM"), [key])[0] ?? null,
    software: (key) => readKeys(join(dir, "SOFTWARE"), [key])[0] ?? null,
    files,
    text: (p) => texts.get(p) ?? "",
  };
}

function report(r: Run): WindowsConversionReport {
  const c = eventOf(r, "conversion").report;
  if (c.family !== "windows") throw new Error(`expected a Windows report, got ${c.family}`);
  return c;
}

/** Every registry value the report claims, found with that value in the converted hive. */
function expectClaimsHold(rep: WindowsConversionReport, back: ReadBack) {
  expect(rep.registry.length).toBeGreaterThan(10);
  for (const c of rep.registry) {
    const path = c.key.split("\\").slice(2);
    const key = (c.hive === "SYSTEM" ? back.system : back.software)(path);
    expect(key, c.key).not.toBeNull();
    const v = valueOf(key, c.name === "(Default)" ? "" : c.name);
    expect(v, `${c.key}\\${c.name}`).not.toBeNull();
  }
}

describe("Windows conversion (phony Windows 10, no Windows boots)", () => {
  it("with virtio-win: plans virtio, installs viostor as a boot driver with DriverDatabase entries, stages the rest, disables VMware, writes the first boot", async () => {
    const out = mkdtempSync(join(tmp, "virtio-"));
    const vmx = guests.vmx("win10");
    const vm = await inspectGuest(vmx);
    const plan = planTarget(vm, { outputDir: out, virtioWin: await readVirtioWin(tree), bootCheck: false });
    expect(plan.disks.map((d) => [d.bus, d.dev])).toEqual([["virtio", "vda"]]);
    expect(plan.nics.map((n) => n.model)).toEqual(["virtio"]);
    expect(plan.conversion?.virtioWin).toBe(tree);

    const before = fingerprint(dirname(vmx));
    const r = await run(vmx, { outputDir: out, virtioWin: await readVirtioWin(tree), bootCheck: false });
    expect(r.error).toBeNull();
    expect(fingerprint(dirname(vmx))).toEqual(before);
    const g = eventOf(r, "inspection").guest;
    expect([g.type, g.product, g.majorVersion, g.minorVersion, g.arch, g.hostname]).toEqual(["windows", WINDOWS_GUEST.product, 10, 0, "x86_64", WINDOWS_GUEST.hostname]);
    expect(g.vmwareTools).toEqual(["VMware Tools"]);
    expect(g.windows).toMatchObject({ systemRoot: "/Windows", controlSet: CS, edition: "Professional", build: "19045", osinfo: "win10", bootPartition: "/dev/sda1", driverDatabase: true });

    const rep = report(r);
    expect([rep.devices, rep.blockDriver, rep.virtioWin, rep.ahciFix]).toEqual(["virtio", "viostor", tree, false]);
    expect(rep.stagedDrivers.sort()).toEqual(["balloon", "blnsvr", "netkvm"]);
    const raw = join(out, readdirSync(out).find((f) => f.endsWith("-vda"))!);
    const fb = "/Windows/Ferry/firstboot.cmd";
    const back = await readBack(raw, [fb, "/Windows/Ferry/network.ps1"]);
    expectClaimsHold(rep, back);

    // The boot driver: its file, and a boot-start service.
    expect(back.files.has("/Windows/System32/drivers/viostor.sys")).toBe(true);
    const svc = back.system([CS, "Services", "viostor"]);
    expect(valueOf(svc, "Start")).toEqual({ type: "dword", value: 0 });
    expect(valueOf(svc, "Type")).toEqual({ type: "dword", value: 1 });
    expect(valueOf(svc, "Group")).toEqual({ type: "sz", value: "SCSI miniport" });
    expect(valueOf(svc, "ImagePath")).toEqual({ type: "expand_sz", value: "system32\\drivers\\viostor.sys" });
    // Windows 8+: DriverDatabase binds virtio-blk's PCI ids (legacy and modern) to it; no CriticalDeviceDatabase.
    for (const id of ["VEN_1AF4&DEV_1001&REV_00", "VEN_1AF4&DEV_1042&REV_01"]) {
      expect(valueOf(back.system(["DriverDatabase", "DeviceIds", "PCI", id]), "ferry-virtio-storage.inf")).toEqual({ type: "binary", value: "01ff0000" });
      expect(valueOf(back.system(["DriverDatabase", "DriverPackages", "ferry-virtio-storage.inf_amd64_0000000000000000", "Descriptors", "PCI", id]), "Configuration")).toEqual({ type: "sz", value: "ferry_conf" });
    }
    expect(valueOf(back.system(["DriverDatabase", "DriverPackages", "ferry-virtio-storage.inf_amd64_0000000000000000", "Configurations", "ferry_conf"]), "Service")).toEqual({ type: "sz", value: "viostor" });
    expect(valueOf(back.system(["DriverDatabase", "DriverInfFiles", "ferry-virtio-storage.inf"]), "Active")).toEqual({ type: "sz", value: "ferry-virtio-storage.inf_amd64_0000000000000000" });
    expect(back.system([CS, "Control", "CriticalDeviceDatabase"])).toBeNull();
    // The guest's own drivers database entry is still there.
    expect(valueOf(back.system(["DriverDatabase", "DriverInfFiles", "machine.inf"]), "Active")).toEqual({ type: "sz", value: "machine.inf_amd64_1234" });

    // Staged drivers (lower-case names, no .pdb) and the guest agent; DevicePath covers them.
    for (const f of ["netkvm.sys", "netkvm.inf", "netkvm.cat", "balloon.inf", "blnsvr.exe", "viostor.inf", "viostor.sys"]) expect(back.files.has(`/Windows/Drivers/VirtIO/${f}`), f).toBe(true);
    expect([...back.files].some((f) => f.endsWith(".pdb"))).toBe(false);
    expect(back.files.has("/Windows/Ferry/qemu-ga-x86_64.msi")).toBe(true);
    expect(valueOf(back.software(["Microsoft", "Windows", "CurrentVersion"]), "DevicePath")).toEqual({ type: "expand_sz", value: "%SystemRoot%\\inf;%SystemRoot%\\Drivers\\VirtIO" });

    // VMware: services off, the mouse class filter list without vmmouse, crash restart off.
    for (const s of ["VMTools", "VGAuthService", "vmci", "vmhgfs", "VMMemCtl", "vmmouse"]) expect(valueOf(back.system([CS, "Services", s]), "Start"), s).toEqual({ type: "dword", value: 4 });
    expect(valueOf(back.system([CS, "Services", "vmxnet3ndis6"]), "Start")).toEqual({ type: "dword", value: 3 });
    expect(valueOf(back.system([CS, "Control", "Class", "{4d36e96f-e325-11ce-bfc1-08002be10318}"]), "UpperFilters")).toEqual({ type: "multi_sz", value: ["mouclass"] });
    expect(valueOf(back.system([CS, "Control", "CrashControl"]), "AutoReboot")).toEqual({ type: "dword", value: 0 });
    // storahci untouched: the guest boots from virtio.
    expect(valueOf(back.system([CS, "Services", "storahci"]), "Start")).toEqual({ type: "dword", value: 3 });

    // The first boot: a service running the script, which installs the drivers, removes Tools, restores the address.
    const fbSvc = back.system([CS, "Services", "FerryFirstboot"]);
    expect(valueOf(fbSvc, "Start")).toEqual({ type: "dword", value: 2 });
    expect(valueOf(fbSvc, "ImagePath")).toEqual({ type: "expand_sz", value: '%SystemRoot%\\System32\\cmd.exe /c start "" /b "%SystemRoot%\\Ferry\\firstboot.cmd"' });
    const script = back.text(fb);
    expect(script).toContain('pnputil /add-driver "%SystemRoot%\\Drivers\\VirtIO\\*.inf" /install');
    expect(script).toContain(`msiexec /x ${WINDOWS_GUEST.vmwareToolsGuid} /qn /norestart`);
    expect(script).toContain('msiexec /i "%here%\\qemu-ga-x86_64.msi" /qn /norestart');
    expect(script).toContain("sc delete FerryFirstboot");
    expect(script).toContain("\r\n");
    const ps = back.text("/Windows/Ferry/network.ps1");
    expect(ps).toContain("$_.MacAddress -eq '00-50-56-AA-BB-01'");
    expect(ps).toContain("New-NetIPAddress -InterfaceIndex $adapter.ifIndex -AddressFamily IPv4 -IPAddress '192.168.50.20' -PrefixLength 24 -DefaultGateway '192.168.50.1'");
    expect(ps).toContain("Set-DnsClientServerAddress -InterfaceIndex $adapter.ifIndex -ServerAddresses '192.168.50.1','9.9.9.9'");
    expect(rep.firstboot.files.map((f) => f.text)).toEqual([script, ps]);
    expect(rep.staticIps).toEqual([{ nic: "ethernet0", mac: WINDOWS_GUEST.mac, addresses: ["192.168.50.20/24"], gateways: ["192.168.50.1"], dns: ["192.168.50.1", "9.9.9.9"] }]);

    // The previous values are reported as they were.
    const start = rep.registry.find((x) => x.key === `HKLM\\SYSTEM\\${CS}\\Services\\VMTools` && x.name === "Start")!;
    expect([start.value, start.previous]).toEqual(["REG_DWORD 4", "REG_DWORD 2"]);
    expect(rep.registry.find((x) => x.key.endsWith("\\Services\\viostor") && x.name === "Start")!.previous).toBe("(absent)");
  }, 20 * 60_000);

  it("without virtio-win: plans SATA and e1000e, says so, and makes storahci start at boot", async () => {
    const out = mkdtempSync(join(tmp, "emulated-"));
    const vmx = guests.vmx("win10");
    const plan = planTarget(await inspectGuest(vmx), { outputDir: out, bootCheck: false });
    expect(plan.disks.map((d) => [d.bus, d.dev])).toEqual([["sata", "sda"]]);
    expect(plan.nics.map((n) => n.model)).toEqual(["e1000e"]);
    expect(plan.conversion?.virtioWin).toBeNull();
    const devices = plan.changes.find((c) => c.subject === "devices")!;
    expect(devices.to).toBe("emulated SATA and e1000e");
    expect(devices.reason).toMatch(/^no virtio-win drivers were given .*: the guest runs on emulated devices \(SATA disks, an e1000e NIC\), slower than virtio; the conversion makes Windows' own AHCI driver \(storahci\) start at boot/);

    const r = await run(vmx, { outputDir: out, bootCheck: false });
    expect(r.error).toBeNull();
    const rep = report(r);
    expect([rep.devices, rep.blockDriver, rep.ahciFix, rep.stagedDrivers]).toEqual(["emulated", null, true, []]);
    const back = await readBack(join(out, readdirSync(out).find((f) => f.endsWith("-sda"))!), ["/Windows/Ferry/firstboot.cmd"]);
    expectClaimsHold(rep, back);
    expect(valueOf(back.system([CS, "Services", "storahci"]), "Start")).toEqual({ type: "dword", value: 0 });
    expect(valueOf(back.system([CS, "Services", "storahci", "StartOverride"]), "0")).toEqual({ type: "dword", value: 0 });
    expect(back.system([CS, "Services", "viostor"])).toBeNull();
    expect(back.files.has("/Windows/System32/drivers/viostor.sys")).toBe(false);
    expect(back.system(["DriverDatabase", "DeviceIds", "PCI", "VEN_1AF4&DEV_1001&REV_00"])).toBeNull();
    expect(valueOf(back.system([CS, "Services", "VMTools"]), "Start")).toEqual({ type: "dword", value: 4 });
    const script = back.text("/Windows/Ferry/firstboot.cmd");
    expect(script).not.toContain("pnputil");
    expect(script).toContain(`msiexec /x ${WINDOWS_GUEST.vmwareToolsGuid} /qn /norestart`);
  }, 20 * 60_000);

  it("with the virtio-win ISO itself (read through libguestfs): the same drivers as from the tree", async () => {
    const iso = join(tmp, "virtio-win.iso");
    execFileSync("xorriso", ["-as", "mkisofs", "-quiet", "-J", "-R", "-V", "virtio-win", "-o", iso, tree]);
    const fromIso = await readVirtioWin(iso);
    expect(fromIso.supports).toEqual((await readVirtioWin(tree)).supports);
    expect(fromIso.supports).toContain("win10/x86_64");
    const out = mkdtempSync(join(tmp, "iso-"));
    const r = await run(guests.vmx("win10"), { outputDir: out, virtioWin: fromIso, bootCheck: false });
    expect(r.error).toBeNull();
    const rep = report(r);
    expect([rep.devices, rep.blockDriver, rep.virtioWin]).toEqual(["virtio", "viostor", iso]);
    expect(rep.files).toContain("/Windows/System32/drivers/viostor.sys");
    expect(rep.files).toContain("/Windows/Drivers/VirtIO/netkvm.inf");
    const back = await readBack(join(out, readdirSync(out).find((f) => f.endsWith("-vda"))!), []);
    expect(back.files.has("/Windows/System32/drivers/viostor.sys")).toBe(true);
    expect(valueOf(back.system([CS, "Services", "viostor"]), "Start")).toEqual({ type: "dword", value: 0 });
  }, 20 * 60_000);

  it("a virtio-win tree without drivers for this Windows: the plan falls back to emulated devices and names why", async () => {
    const only2k22 = makeVirtioWinTree(join(tmp, "virtio-win-2k22"), ["viostor/2k22/amd64/viostor.sys", "viostor/2k22/amd64/viostor.inf"]);
    const plan = planTarget(await inspectGuest(guests.vmx("win10")), { outputDir: tmp, virtioWin: await readVirtioWin(only2k22) });
    expect(plan.disks[0]!.bus).toBe("sata");
    expect(plan.changes.find((c) => c.subject === "devices")!.reason).toMatch(new RegExp(`^${only2k22.replace(/[/.]/g, "\\$&")} has no viostor or vioscsi for win10 \\(x86_64\\)`));
  });
});

describe("Windows refusals: at inspection, before anything is copied or written", () => {
  for (const [variant, code, message] of [
    ["bitlocker", "convert.bitlocker", /^\/dev\/sda1 is encrypted with BitLocker: Ferry cannot read or change what is inside/],
    ["dynamic", "convert.dynamic-disk", /^\/dev\/sda1 is on a Windows dynamic disk \(Logical Disk Manager, MBR partition type 0x42\): Ferry converts basic disks only$/],
    ["hibernated", "convert.windows-hibernated", /^\/dev\/sda1: Windows is hibernated \(or was shut down with Fast Startup\)/],
  ] as const) {
    it(`${variant}: ${code}`, async () => {
      const out = mkdtempSync(join(tmp, `refused-${variant}-`));
      const vmx = guests.vmx(variant);
      const before = fingerprint(dirname(vmx));
      const r = await run(vmx, { outputDir: out, virtioWin: await readVirtioWin(tree) });
      expect(r.error).toBeInstanceOf(FerryError);
      const e = r.error as FerryError;
      expect(r.failedStage).toBe("Inspecting the overlay");
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(e.hint).toBeTruthy();
      expect(r.started.some((s) => s.startsWith("Copying"))).toBe(false);
      expect(readdirSync(out)).toEqual([]);
      expect(fingerprint(dirname(vmx))).toEqual(before);
    }, 10 * 60_000);
  }
});

it("the fixture's virtio-win tree has the ISO's layout", () => {
  expect(existsSync(join(tree, "viostor/w10/amd64/viostor.sys"))).toBe(true);
  expect(execFileSync("find", [tree, "-name", "*.pdb"], { encoding: "utf8" }).trim()).not.toBe("");
});

describe("the CLI: ferry -i vmx win10.vmx -o local -os DIR [--virtio-win TREE]", () => {
  async function ferry(...args: string[]) {
    let out = "";
    let err = "";
    const status = await cli(args, { out: (x) => (out += x), err: (x) => (err += x) });
    return { status, out, err };
  }

  it("with --virtio-win: virtio in the libvirt XML, the conversion and its registry edits printed", async () => {
    const out = mkdtempSync(join(tmp, "cli-virtio-"));
    const r = await ferry("-i", "vmx", guests.vmx("win10"), "-o", "local", "-os", out, "--virtio-win", tree, "--no-boot-check");
    expect(r.status, r.err).toBe(0);
    expect(r.err).toContain("ferry: guest: Windows 10 Pro 10.0 build 19045, Professional (x86_64), system root /Windows on /dev/sda1, boots from /dev/sda1");
    expect(r.err).toContain(`ferry: converted Windows 10 Pro (10.0) for virtio (viostor from ${tree})`);
    expect(r.err).toContain("ferry:   HKLM\\SYSTEM\\ControlSet001\\Services\\viostor\\Start = REG_DWORD 0 (was (absent))");
    const xml = readFileSync(join(out, "win10.xml"), "utf8");
    expect(xml).toMatch(/<target dev='vda' bus='virtio'\/>/);
    expect(xml).toMatch(/<model type='virtio'\/>/);
  }, 20 * 60_000);

  it("without it: SATA and e1000e, and storahci starts at boot", async () => {
    const out = mkdtempSync(join(tmp, "cli-emulated-"));
    const r = await ferry("-i", "vmx", guests.vmx("win10"), "-o", "local", "-os", out, "--no-boot-check");
    expect(r.status, r.err).toBe(0);
    expect(r.err).toContain("ferry: converted Windows 10 Pro (10.0) for emulated SATA and e1000e (storahci starts at boot)");
    expect(r.err).toContain("ferry:   HKLM\\SYSTEM\\ControlSet001\\Services\\storahci\\Start = REG_DWORD 0 (was REG_DWORD 3)");
    const xml = readFileSync(join(out, "win10.xml"), "utf8");
    expect(xml).toMatch(/<target dev='sda' bus='sata'\/>/);
    expect(xml).toMatch(/<model type='e1000e'\/>/);
  }, 20 * 60_000);
});
