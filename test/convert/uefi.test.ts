import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectGuest } from "../../server/input/inspect-guest";
import { uefiVars } from "../../server/output/output";
import { planTarget } from "../../server/plan";
import { bootCheck } from "../../server/qemu/boot-check";
import { readBootEntries } from "../../server/qemu/ovmf-vars";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { eventOf, nicReport, run, vmxMacs, type Run, asLinux } from "./helpers";

/**
 * The UEFI guest: GPT with an ESP holding Debian's signed shim and grub in
 * \EFI\debian and no \EFI\BOOT fallback; its boot entry lived in VMware's
 * NVRAM only, so with fresh OVMF variables a plain copy stops in the
 * firmware (test/guests/uefi.test.ts). Converted, it ships its own OVMF
 * variables with that entry, and the ESP gets the fallback loader; the
 * boot check boots it with those variables and sees the firmware start the
 * guest's own entry. Its three NICs are configured by netplan
 * (systemd-networkd). uefi-sb.vmx is the same disk with Secure Boot on.
 */

let guest: LinuxGuest;
let out: string;
let r: Run;
let before: Record<string, string>;

beforeAll(async () => {
  guest = linuxGuest("uefi");
  out = mkdtempSync(join(tmpdir(), "ferry-uefi-"));
  before = fingerprint(guest.folder);
  r = await run(guest.vmx, { outputDir: out });
}, 40 * 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the UEFI guest (GPT, ESP without a fallback loader, netplan)", () => {
  it("converts and boots with the variables Ferry ships, starting the guest's own boot entry", () => {
    expect(r.error).toBeNull();
    const boot = eventOf(r, "boot");
    expect(boot.ok).toBe(true);
    expect(boot.firmware).toEqual({ kind: "uefi", secureBoot: false, varsFromGuest: true });
    expect(boot.bootEntry).toMatch(/debian/);
    expect(fingerprint(guest.folder)).toEqual(before);
  });

  it("installs the fallback loader from the guest's own shim and grub, and records the entry", () => {
    const u = asLinux(eventOf(r, "conversion").report).uefi!;
    expect(u).toMatchObject({ mountpoint: "/boot/efi", loader: "\\EFI\\debian\\shimx64.efi", fallback: "installed" });
    expect(u.fallbackFiles).toEqual(expect.arrayContaining(["\\EFI\\BOOT\\BOOTX64.EFI", "\\EFI\\BOOT\\grubx64.efi"]));
    expect(u.bootEntry).toMatchObject({ description: "debian", path: "\\EFI\\debian\\shimx64.efi", partition: { number: 1 } });
  });

  it("ships uefi_VARS.fd with that entry first in BootOrder, and the libvirt XML boots from it", () => {
    const vars = join(out, "uefi_VARS.fd");
    expect(existsSync(vars)).toBe(true);
    const read = readBootEntries(readFileSync(vars));
    const own = read.entries.find((e) => e.description === "debian")!;
    expect(own.path).toBe("\\EFI\\debian\\shimx64.efi");
    expect(read.order[0]).toBe(own.number);
    expect(readFileSync(join(out, "uefi.xml"), "utf8")).toContain(`<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>${vars}</nvram>`);
  });

  it("boots with Secure Boot on as uefi-sb.vmx plans it: OVMF's Secure Boot build, Microsoft's keys, Debian's signed shim, grub and kernel", async () => {
    const sbVmx = guest.vmxs.find((v) => v.endsWith("uefi-sb.vmx"))!;
    const plan = planTarget(await inspectGuest(sbVmx), { outputDir: out });
    expect(plan).toMatchObject({ firmware: "uefi", secureBoot: true });
    // The converted disk with the variables the output writes for a Secure Boot plan.
    const vars = join(out, "uefi-sb_VARS.fd");
    writeFileSync(vars, uefiVars(plan, eventOf(r, "conversion").report).bytes);
    const b = await bootCheck({
      disks: [{ path: join(out, "uefi-vda"), format: "raw", bus: "virtio", pciBus: 1 }],
      nics: [],
      rootPorts: 1,
      firmware: "uefi",
      secureBoot: true,
      uefiVars: vars,
      memoryMiB: 1024,
      vcpus: 2,
      consoleLog: join(out, "sb-console.log"),
      screenshot: join(out, "sb-screen.png"),
    });
    expect(b.failure).toBeNull();
    expect(b).toMatchObject({ ok: true, firmware: { kind: "uefi", secureBoot: true, varsFromGuest: true } });
    expect(b.bootEntry).toMatch(/debian/);
    expect(readFileSync(join(out, "sb-console.log"), "utf8")).toMatch(/Secure boot enabled/i);
  }, 20 * 60_000);

  it("keeps the netplan NICs' names and addresses", () => {
    const macs = vmxMacs(readFileSync(guest.vmx, "utf8"));
    const boot = eventOf(r, "boot");
    expect(boot.nics![0]).toMatchObject({ mac: macs[0], addresses: expect.arrayContaining(["192.168.50.10"]) });
    expect(boot.nics![2]).toMatchObject({ mac: macs[2], addresses: expect.arrayContaining(["10.20.30.40"]) });
    expect(nicReport(readFileSync(join(out, "uefi-console.log"), "utf8")).ens256).toEqual({ mac: macs[2], addr: "10.20.30.40/24" });
  });
});
