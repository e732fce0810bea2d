import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootCheck, type BootCheckOptions } from "./boot-check";
import { readBootEntries, withBootEntries, type UefiBootEntry } from "./ovmf-vars";

/**
 * A real UEFI boot through a generated boot entry. The disk is made here: a
 * GPT with one EFI System Partition holding only \EFI\ferry\loader.efi (no
 * \EFI\BOOT\BOOTX64.EFI fallback), a grub EFI image from grub-mkimage whose
 * embedded config prints a marker, talks on the network (a static address's
 * ARP and DNS query, then DHCP) and says "ferry login:" so the boot check
 * passes. OVMF only finds the loader through the entry.
 */

const ESP_START = 2048;
const ESP_SIZE = 61440;
const ESP_GUID = "0E8C3A3C-1D2B-4C5E-9F00-112233445566";
const ENTRY: UefiBootEntry = { description: "Ferry test entry", partition: { number: 1, startLba: ESP_START, sizeLba: ESP_SIZE, guid: ESP_GUID }, path: "\\EFI\\ferry\\loader.efi" };
const MARKER = "ferry-uefi-entry-ok";

let dir: string;
let disk: string;
let work: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-uefi-test-"));
  work = join(dir, "work");
  mkdirSync(work);
  const cfg = join(dir, "embed.cfg");
  writeFileSync(cfg, [`echo ${MARKER}`, "net_add_addr ferry efinet0 10.0.2.77", "net_nslookup ferry.test 10.0.2.3", "net_bootp efinet0", "echo ferry login:", "sleep 60", "halt", ""].join("\n"));
  const loader = join(dir, "loader.efi");
  execFileSync("grub-mkimage", ["-O", "x86_64-efi", "-p", "/EFI/ferry", "-c", cfg, "-o", loader, "echo", "halt", "sleep", "efinet", "net"]);
  const esp = join(dir, "esp.img");
  execFileSync("mkfs.vfat", ["-C", esp, String(ESP_SIZE / 2)], { stdio: "ignore" });
  execFileSync("mmd", ["-i", esp, "::/EFI", "::/EFI/ferry"]);
  execFileSync("mcopy", ["-i", esp, loader, "::/EFI/ferry/loader.efi"]);
  disk = join(dir, "disk.img");
  writeFileSync(disk, "");
  truncateSync(disk, 40 * 1024 ** 2);
  execFileSync("sfdisk", ["-q", disk], { input: `label: gpt\nstart=${ESP_START}, size=${ESP_SIZE}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=${ESP_GUID}\n` });
  execFileSync("dd", [`if=${esp}`, `of=${disk}`, "bs=512", `seek=${ESP_START}`, "conv=notrunc", "status=none"]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(extra: Partial<BootCheckOptions>): BootCheckOptions {
  return {
    disks: [{ path: disk, format: "raw", bus: "virtio", pciBus: 2 }],
    nics: [{ model: "virtio", mac: "52:54:00:aa:bb:07", pciBus: 1 }],
    rootPorts: 2,
    firmware: "uefi",
    memoryMiB: 512,
    vcpus: 1,
    consoleLog: join(dir, "console.log"),
    screenshot: join(dir, "screen.png"),
    timeoutMs: 90_000,
    tmpDir: work,
    ...extra,
  };
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("a generated boot entry boots the guest's loader", () => {
  it("with OVMF's fresh variables the loader is never found: the firmware falls back to its shell", async () => {
    const r = await bootCheck(options({}));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/the firmware fell back to the UEFI shell/);
    expect(readFileSync(join(dir, "console.log"), "latin1")).not.toContain(MARKER);
    expect(r.bootEntry).toBe('Boot0002 "EFI Internal Shell"');
    expect(r.firmware.varsFromGuest).toBe(false);
    expect(readdirSync(work)).toEqual([]);
  });

  it("with withBootEntries' variables OVMF loads Boot0000 from HD(...) and the loader runs; the file is not modified; the NIC's packets show DHCP and its static address", async () => {
    const vars = join(dir, "guest-vars.fd");
    writeFileSync(vars, withBootEntries(readFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd"), [ENTRY]));
    const before = sha(vars);
    const r = await bootCheck(options({ uefiVars: vars }));
    const console = readFileSync(join(dir, "console.log"), "latin1");
    expect(r.failure).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.line).toBe("ferry login:");
    expect(console).toContain(`BdsDxe: loading Boot0000 "Ferry test entry" from HD(1,GPT,${ESP_GUID},0x800,0xF000)/\\EFI\\ferry\\loader.efi`);
    expect(console).toContain('BdsDxe: starting Boot0000 "Ferry test entry"');
    expect(console).toContain(MARKER);
    expect(r.bootEntry).toBe('Boot0000 "Ferry test entry"');
    expect(r.firmware).toEqual({ kind: "uefi", secureBoot: false, varsFromGuest: true });
    expect(sha(vars)).toBe(before);
    expect(readBootEntries(readFileSync(vars)).entries.map((e) => e.description)).toEqual(["Ferry test entry"]);
    // Item: per-NIC evidence from qemu's own packet dump.
    expect(r.nics).toEqual([{ mac: "52:54:00:aa:bb:07", model: "virtio", dhcp: true, addresses: ["10.0.2.77"] }]);
    expect(r.dhcpFrom).toEqual(["52:54:00:aa:bb:07"]);
    expect(readdirSync(work)).toEqual([]);
  });

  it("under Secure Boot (Microsoft's keys) the unsigned loader is refused, and the check says so at once", async () => {
    const vars = join(dir, "guest-vars-ms.fd");
    writeFileSync(vars, withBootEntries(readFileSync("/usr/share/OVMF/OVMF_VARS_4M.ms.fd"), [ENTRY]));
    const r = await bootCheck(options({ uefiVars: vars, secureBoot: true }));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^the guest did not boot: the firmware found no bootable option: "BdsDxe: No bootable option or device was found\." after "BdsDxe: failed to load Boot0000 "Ferry test entry" from HD\(1,GPT,0E8C3A3C-1D2B-4C5E-9F00-112233445566,0x800,0xF000\)\/\\EFI\\ferry\\loader\.efi: Access Denied"$/);
    expect(r.firmware).toEqual({ kind: "uefi", secureBoot: true, varsFromGuest: true });
    expect(readFileSync(join(dir, "console.log"), "latin1")).not.toContain(MARKER);
  });
});
