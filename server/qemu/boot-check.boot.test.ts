import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootCheck, type BootCheckOptions } from "./boot-check";
import { FerryError } from "../errors";

/**
 * Real boots under qemu (TCG here): a blank disk must end the check within
 * seconds at the firmware's dead end, not after the 10-minute limit; and
 * whatever way bootCheck ends, its work folder and its qemu are gone.
 */

let dir: string;
let work: string;
let blank: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-boot-test-"));
  work = join(dir, "work");
  blank = join(dir, "blank.img");
  writeFileSync(blank, "");
  truncateSync(blank, 64 * 1024 ** 2);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Processes whose command line mentions `path` (the check's qemu names its work folder in -qmp). */
function processesMentioning(path: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function options(firmware: "bios" | "uefi", extra: Partial<BootCheckOptions> = {}): BootCheckOptions {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  return {
    disks: [{ path: blank, format: "raw", bus: "virtio", pciBus: 2 }],
    nics: [{ model: "virtio", mac: "52:54:00:aa:bb:01", pciBus: 1 }],
    rootPorts: 2,
    firmware,
    memoryMiB: 512,
    vcpus: 1,
    consoleLog: join(dir, `${firmware}-console.log`),
    screenshot: join(dir, `${firmware}-screen.png`),
    timeoutMs: 120_000,
    tmpDir: work,
    ...extra,
  };
}

function expectNothingLeft() {
  expect(readdirSync(work)).toEqual([]);
  expect(processesMentioning(work)).toEqual([]);
}

describe("bootCheck on a blank disk", () => {
  it("BIOS: SeaBIOS's 'No bootable device' on the VGA screen ends the check in seconds", async () => {
    // No NIC: its iPXE ROM would try a network boot after the disk (see the next test).
    const r = await bootCheck(options("bios", { screenEveryMs: 2000, nics: [], rootPorts: 2 }));
    expect(r.ok).toBe(false);
    expect(r.seconds).toBeLessThan(60);
    expect(r.failure).toBe('the guest did not boot: the BIOS found no bootable device: "No bootable device." after "Boot failed: not a bootable disk" (on the screen)');
    expect(r.line).toBe("No bootable device.");
    expect(r.screen?.[0]).toMatch(/^SeaBIOS/);
    expect(r.lastLines).toContain("No bootable device.");
    expect(r.screenshot).toBe(true);
    expect(readFileSync(join(dir, "bios-screen.png")).subarray(1, 4).toString()).toBe("PNG");
    expect(r.firmware).toEqual({ kind: "bios", secureBoot: false, varsFromGuest: false });
    expect(r.bootEntry).toBeNull();
    expect(r.nics).toEqual([]);
    expectNothingLeft();
  });

  it("BIOS with a NIC: the boot disk's own 'not a bootable disk' ends the check, before iPXE's network boot", async () => {
    const r = await bootCheck(options("bios", { screenEveryMs: 2000 }));
    expect(r.ok).toBe(false);
    expect(r.seconds).toBeLessThan(60);
    expect(r.failure).toMatch(/^the guest did not boot: the BIOS found no boot loader on the disk: "Boot failed: not a bootable disk" \(on the screen\)$/);
    // iPXE may have sent its DHCP request by the time the screen is read: that is the NIC's, not the guest's.
    expect(r.nics).toMatchObject([{ mac: "52:54:00:aa:bb:01", model: "virtio", addresses: [] }]);
    expectNothingLeft();
  });

  it("UEFI: OVMF falling back to its shell ends the check, naming the boot entry it started", async () => {
    const r = await bootCheck(options("uefi"));
    expect(r.ok).toBe(false);
    expect(r.seconds).toBeLessThan(60);
    expect(r.failure).toMatch(/^the guest did not boot: the firmware fell back to the UEFI shell: "UEFI Interactive Shell.*" after "BdsDxe: failed to load Boot0001/);
    expect(r.bootEntry).toBe('Boot0002 "EFI Internal Shell"');
    expect(r.firmware).toEqual({ kind: "uefi", secureBoot: false, varsFromGuest: false });
    expect(r.screen).toBeNull();
    expectNothingLeft();
  });

  it("UEFI with Secure Boot: OVMF refuses its unsigned shell and finds no bootable option", async () => {
    const r = await bootCheck(options("uefi", { secureBoot: true }));
    expect(r.ok).toBe(false);
    expect(r.seconds).toBeLessThan(60);
    expect(r.line).toBe("BdsDxe: No bootable option or device was found.");
    expect(r.failure).toContain("the firmware found no bootable option");
    expect(r.firmware).toEqual({ kind: "uefi", secureBoot: true, varsFromGuest: false });
    expect(readFileSync(join(dir, "uefi-console.log"), "latin1")).toContain("Security Violation");
    expectNothingLeft();
  });
});

describe("bootCheck's other endings", () => {
  it("qemu that cannot start the guest (a missing disk) ends the check with qemu's own words", async () => {
    const r = await bootCheck(options("bios", { disks: [{ path: join(dir, "absent.img"), format: "raw", bus: "virtio", pciBus: 2 }] }));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^the guest stopped before a login prompt: qemu exited \(1\): .*absent\.img.*No such file or directory/);
    expect(r.screenshot).toBe(false);
    expectNothingLeft();
  });

  it("a guest that shows nothing conclusive ends at the time limit", async () => {
    const r = await bootCheck(options("bios", { timeoutMs: 3000, screenEveryMs: 600_000 }));
    expect(r.ok).toBe(false);
    expect(r.failure).toBe("no login prompt on the serial console within 3 s");
    expect(r.seconds).toBeGreaterThanOrEqual(3);
    expect(r.seconds).toBeLessThan(20);
    expect(r.screen).toBeNull();
    expectNothingLeft();
  });
});

describe("bootCheck leaves nothing behind when it throws", () => {
  it("cancelled mid-boot: the cancellation error, no qemu, no work folder", async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 1500);
    // The screen is not read within the test, so only the cancellation can end this check early.
    const error = await bootCheck(options("bios", { signal: abort.signal, screenEveryMs: 600_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).code).toBe("pipeline.cancelled");
    expectNothingLeft();
  });

  it("a guest variables file that is missing or the wrong size is refused before qemu starts", async () => {
    let error = await bootCheck(options("uefi", { uefiVars: join(dir, "absent.fd") })).catch((e: unknown) => e);
    expect((error as FerryError).code).toBe("boot-check.no-vars");
    expect((error as FerryError).message).toContain("absent.fd does not exist");
    expectNothingLeft();
    const small = join(dir, "small.fd");
    writeFileSync(small, Buffer.alloc(4096));
    error = await bootCheck(options("uefi", { uefiVars: small })).catch((e: unknown) => e);
    expect((error as FerryError).code).toBe("boot-check.vars-size");
    expect((error as FerryError).message).toMatch(/small\.fd is 4096 bytes; the firmware \/usr\/share\/OVMF\/OVMF_CODE_4M\.fd needs 540672/);
    expectNothingLeft();
  });
});

describe("bootCheck's network proof (the Windows mode), on real qemu boots", () => {
  /** A boot sector that paints the whole text screen white on blue, as a stop screen looks, then halts. */
  function blueBootDisk(): string {
    const disk = join(dir, "blue.img");
    const mbr = Buffer.alloc(512);
    // mov ax,0xB800; mov es,ax; xor di,di; mov ax,0x1F20; mov cx,2000; rep stosw; cli; hlt; jmp $-3
    Buffer.from([0xb8, 0x00, 0xb8, 0x8e, 0xc0, 0x31, 0xff, 0xb8, 0x20, 0x1f, 0xb9, 0xd0, 0x07, 0xf3, 0xab, 0xfa, 0xf4, 0xeb, 0xfd]).copy(mbr);
    mbr.writeUInt16LE(0xaa55, 510);
    writeFileSync(disk, Buffer.concat([mbr, Buffer.alloc(1024 * 1024 - 512)]));
    return disk;
  }

  it("a blue screen ends the check as a failure, with that screenshot", async () => {
    const shot = join(dir, "blue-screen.png");
    const r = await bootCheck(options("bios", { disks: [{ path: blueBootDisk(), format: "raw", bus: "sata", pciBus: null }], proof: "network", shotEveryMs: 3000, timeoutMs: 120_000, screenshot: shot }));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^the guest stopped with a blue screen \(a Windows stop error, classic blue/);
    expect(r.seconds).toBeLessThan(100);
    expect(r.screenshot).toBe(true);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
    expect(r.screenshots.at(-1)!.blue).toBe(true);
    expect(r.screenshots.at(-1)!.png).toMatch(/^data:image\/png;base64,/);
    expectNothingLeft();
  }, 240_000);

  it("a guest whose NIC never speaks fails at the limit, naming its MAC, with screenshots along the way (no network boot ROM: iPXE's DHCP must not pass for the guest's)", async () => {
    const r = await bootCheck(options("bios", { proof: "network", shotEveryMs: 4000, timeoutMs: 25_000, screenEveryMs: 600_000 }));
    expect(r.ok).toBe(false);
    expect(r.failure).toBe("no DHCP request or address announcement from the guest's NICs (52:54:00:aa:bb:01) within 25 s");
    expect(r.screenshots.length).toBeGreaterThanOrEqual(3);
    expect(r.screenshots.some((s) => s.blue)).toBe(false);
    expectNothingLeft();
  }, 240_000);
});
