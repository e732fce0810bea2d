import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { bootCheckArgs, defaultMac } from "./boot-check";
import { consoleText, describeFailure, judgeConsole, startedBootEntry } from "./console";
import { ovmfFirmware } from "./ovmf";
import { FerryError } from "../errors";
import { dhcpClients } from "./pcap";
import { ppmToPng } from "./png";
import { VGA_TEXT_BYTES, vgaText, vgaTextLines } from "./vga-text";

const fixture = (name: string) => readFileSync(join(__dirname, "fixtures", name));

describe("judgeConsole", () => {
  it("passes on a getty login prompt, even with kernel messages after it on the line", () => {
    expect(judgeConsole("Debian GNU/Linux 12 debian12 ttyS0\n\ndebian12 login: [   24.97] kvm: Nested")).toEqual({ state: "booted", line: "debian12 login:" });
  });

  it("fails at once on the initramfs giving up, a panic or emergency mode, quoting the line", () => {
    const alert = "Begin: Running /scripts/local-block ... done.\nGave up waiting for root file system device.  Common problems:\nALERT!  /dev/sda1 does not exist.  Dropping to a shell!\n(initramfs) ";
    expect(judgeConsole(alert)).toEqual({ state: "failed", line: "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!", what: "the initramfs did not find the root file system" });
    expect(judgeConsole("[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\n").state).toBe("failed");
    expect(judgeConsole("You are in emergency mode. After logging in, type ...\n").state).toBe("failed");
  });

  it("waits while the guest is still booting", () => {
    expect(judgeConsole("[    0.000000] Linux version 6.1.0\nLoading initial ramdisk ...\n")).toEqual({ state: "waiting", line: null });
  });

  it("strips terminal colours and carriage returns", () => {
    expect(consoleText("[\x1b[0;32m  OK  \x1b[0m] Started\r\n")).toBe("[  OK  ] Started\n");
    expect(consoleText("\x1b[2J\x1b[01;01H\x1b[=3hBdsDxe")).toBe("BdsDxe");
  });
});

describe("judgeConsole: firmware and boot loader dead ends", () => {
  it("fails on OVMF falling back to its shell (recorded: a blank disk), quoting the boot option that failed", () => {
    const v = judgeConsole(consoleText(fixture("ovmf-blank-disk.log").toString("latin1")));
    expect(v).toEqual({ state: "failed", line: "UEFI Interactive Shell v2.2", what: "the firmware fell back to the UEFI shell", cause: 'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x2,0x0): Not Found' });
    expect(describeFailure(v)).toBe(`the firmware fell back to the UEFI shell: "UEFI Interactive Shell v2.2" after "BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x2,0x0): Not Found"`);
    // The prompt alone is enough too (the banner may have scrolled out of the kept text).
    expect(judgeConsole("FS0:\\> \nShell> ").state).toBe("failed");
  });

  it("fails on OVMF with no bootable option (recorded: Secure Boot firmware, blank disk)", () => {
    const v = judgeConsole(consoleText(fixture("ovmf-secboot-blank-disk.log").toString("latin1")));
    expect(v.state).toBe("failed");
    expect(v.line).toBe("BdsDxe: No bootable option or device was found.");
    expect(v.what).toBe("the firmware found no bootable option");
    expect(v.cause).toMatch(/^BdsDxe: failed to load Boot0001 "UEFI Misc Device"/);
  });

  it("waits while OVMF moves on from a failed boot option to the next", () => {
    const text = 'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x2,0x0): Not Found\nBdsDxe: loading Boot0002 "debian" from HD(1,GPT,...)\nBdsDxe: starting Boot0002 "debian" from HD(1,GPT,...)\n';
    expect(judgeConsole(text)).toEqual({ state: "waiting", line: null });
    expect(startedBootEntry(text)).toBe('Boot0002 "debian"');
    expect(startedBootEntry("Linux version 6.1")).toBeNull();
  });

  it("fails on grub's rescue prompt, quoting grub's error before it, but not on a harmless grub error alone", () => {
    const text = "Welcome to GRUB!\n\nerror: disk `hd0,gpt2' not found.\nEntering rescue mode...\ngrub rescue> ";
    expect(judgeConsole(text)).toEqual({ state: "failed", line: "grub rescue>", what: "grub stopped at its rescue prompt", cause: "error: disk `hd0,gpt2' not found." });
    expect(judgeConsole("error: file `/boot/grub/fonts/unicode.pf2' not found.\nLoading Linux 6.1.0-18-amd64 ...\n").state).toBe("waiting");
  });

  it("fails on grub's bare command line (no grub.cfg), but not on the word grub> inside a line", () => {
    expect(judgeConsole("error: file `/boot/grub/grub.cfg' not found.\ngrub> ")).toEqual({ state: "failed", line: "grub>", what: "grub stopped at its command line (no configuration)", cause: "error: file `/boot/grub/grub.cfg' not found." });
    expect(judgeConsole("press c for a grub> prompt\n").state).toBe("waiting");
  });

  it("fails on boot sectors and Windows' boot manager giving up (their text screens)", () => {
    expect(judgeConsole("Missing operating system.")).toMatchObject({ state: "failed", what: "the boot sector found no operating system" });
    expect(judgeConsole("BOOTMGR is missing\nPress Ctrl+Alt+Del to restart")).toMatchObject({ state: "failed", line: "BOOTMGR is missing" });
    const bootmgr = "Windows Boot Manager\n\nWindows failed to start. A recent hardware or software change might be the\ncause.\n\n  File: \\Windows\\system32\\winload.exe\n\n  Status: 0xc000000e\n";
    expect(judgeConsole(bootmgr)).toMatchObject({ state: "failed", what: "Windows did not start", line: "Windows failed to start. A recent hardware or software change might be the" });
  });

  it("fails on SeaBIOS's dead ends", () => {
    expect(judgeConsole("Booting from Hard Disk...\nBoot failed: not a bootable disk\n")).toMatchObject({ state: "failed", what: "the BIOS found no boot loader on the disk" });
    expect(judgeConsole("No bootable option or device was found.")).toMatchObject({ state: "failed", what: "the firmware found no bootable option" });
  });
});

describe("vgaTextLines", () => {
  it("decodes a recorded SeaBIOS screen (a blank disk) into 25 lines of 80, and judges it like a console", () => {
    const screen = fixture("seabios-blank-disk.vga");
    const lines = vgaTextLines(screen);
    expect(lines).toHaveLength(25);
    expect(lines.slice(0, 7)).toEqual(["SeaBIOS (version 1.16.2-debian-1.16.2-1)", "Booting from Hard Disk...", "Boot failed: not a bootable disk", "", "Booting from Floppy...", "Boot failed: could not read the boot disk", ""]);
    expect(judgeConsole(vgaText(screen))).toEqual({ state: "failed", line: "No bootable device.", what: "the BIOS found no bootable device", cause: "Boot failed: not a bootable disk" });
  });

  it("reads characters, not attributes, keeps row positions, maps box drawing, and refuses a buffer that is not one screen", () => {
    const screen = new Uint8Array(VGA_TEXT_BYTES);
    const put = (row: number, col: number, text: number[]) => text.forEach((c, i) => ((screen[(row * 80 + col + i) * 2] = c), (screen[(row * 80 + col + i) * 2 + 1] = 0x1f)));
    put(0, 79, [0x41]);
    put(2, 0, [0xda, 0xc4, 0xbf, 0x01, 0x67, 0x72, 0x75, 0x62, 0x20, 0x72, 0x65, 0x73, 0x63, 0x75, 0x65, 0x3e]);
    const lines = vgaTextLines(screen);
    expect(lines[0]).toBe(" ".repeat(79) + "A");
    expect(lines[1]).toBe("");
    expect(lines[2]).toBe("┌─┐ grub rescue>");
    expect(judgeConsole(lines.join("\n")).state).toBe("failed");
    expect(() => vgaTextLines(new Uint8Array(3999))).toThrow(/4000 bytes, not 3999/);
  });
});

describe("bootCheckArgs", () => {
  it("boots the target's devices on their PCI buses, snapshot=on, on an isolated network with a packet dump", () => {
    const args = bootCheckArgs(
      {
        disks: [{ path: "/out/g-vda", format: "raw", bus: "virtio", pciBus: 2 }],
        nics: [{ model: "virtio", mac: "52:54:00:00:00:01", pciBus: 1 }],
        rootPorts: 2,
        firmware: "bios",
        memoryMiB: 8192,
        vcpus: 8,
        consoleLog: "/out/g-console.log",
        screenshot: "/out/g-screen.png",
      },
      "tcg",
      "/tmp/q.sock",
      "/tmp/w",
      null,
    ).join(" ");
    expect(args).toContain("-machine q35,accel=tcg -cpu Haswell-noTSX,pcid=off,x2apic=off,tsc-deadline=off,invpcid=off,erms=off -m 2048 -smp 2");
    expect(args).toContain("-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x2 -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0x3");
    expect(args).toContain("-drive file=/out/g-vda,format=raw,if=none,id=disk0,snapshot=on,cache=unsafe -device virtio-blk-pci,drive=disk0,bus=rp2,addr=0x0,bootindex=1");
    expect(args).toContain("-netdev user,id=net0,restrict=on -device virtio-net-pci,netdev=net0,bus=rp1,addr=0x0,mac=52:54:00:00:00:01");
    expect(args).toContain("filter-dump,id=dump0,netdev=net0,file=/tmp/w/nic0.pcap");
    expect(args).toContain("-serial file:/out/g-console.log");
  });

  it("doubles commas in paths, as qemu's option syntax needs", () => {
    const args = bootCheckArgs({ disks: [{ path: "/srv/vms,2024/g-vda", format: "raw", bus: "virtio", pciBus: 1 }], nics: [], rootPorts: 1, firmware: "bios", memoryMiB: 1024, vcpus: 1, consoleLog: "/srv/vms,2024/c.log", screenshot: "/x.png" }, "kvm", "/tmp/q.sock", "/tmp/w", null);
    expect(args).toContain("file=/srv/vms,,2024/g-vda,format=raw,if=none,id=disk0,snapshot=on,cache=unsafe");
    expect(args).toContain("file:/srv/vms,,2024/c.log");
    expect(args.join(" ")).toContain("-cpu host");
  });
});

describe("ovmfFirmware", () => {
  it("picks OVMF's 4 MiB code and variables, and for Secure Boot the SMM build with Microsoft's keys, SMM and a secure flash", () => {
    expect(ovmfFirmware(false)).toEqual({ code: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd", secureBoot: false, machineOptions: [], args: [] });
    expect(ovmfFirmware(true)).toEqual({ code: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", secureBoot: true, machineOptions: ["smm=on"], args: ["-global", "driver=cfi.pflash01,property=secure,value=on"] });
  });

  it("names the missing files and says to install ovmf", () => {
    const error = (() => {
      try {
        ovmfFirmware(true, "/nonexistent/OVMF");
      } catch (e) {
        return e as FerryError;
      }
    })();
    expect(error).toBeInstanceOf(FerryError);
    expect(error!.code).toBe("boot-check.no-ovmf");
    expect(error!.message).toBe("the guest boots with UEFI and Secure Boot and this host has no OVMF firmware for it: /nonexistent/OVMF/OVMF_CODE_4M.secboot.fd and /nonexistent/OVMF/OVMF_VARS_4M.ms.fd are missing");
    expect(error!.file).toBe("/nonexistent/OVMF/OVMF_CODE_4M.secboot.fd");
    expect(error!.hint).toMatch(/^apt-get install ovmf/);
  });

  it("puts the firmware on the command line: Secure Boot adds smm=on and the secure flash; a NIC without a MAC gets qemu's own default, named", () => {
    const o = { disks: [], nics: [{ model: "e1000e", mac: null, pciBus: 1 }, { model: "virtio", mac: null, pciBus: 2 }], rootPorts: 2, firmware: "uefi" as const, memoryMiB: 1024, vcpus: 1, consoleLog: "/c.log", screenshot: "/s.png", secureBoot: true };
    const args = bootCheckArgs(o, "tcg", "/tmp/q.sock", "/tmp/w", "/tmp/w/vars.fd").join(" ");
    expect(args).toContain("-machine q35,smm=on,accel=tcg");
    expect(args).toContain("-global driver=cfi.pflash01,property=secure,value=on -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd -drive if=pflash,format=raw,file=/tmp/w/vars.fd");
    expect(args).toContain("e1000e,netdev=net0,bus=rp1,addr=0x0,mac=52:54:00:12:34:56");
    expect(args).toContain("virtio-net-pci,netdev=net1,bus=rp2,addr=0x0,mac=52:54:00:12:34:57");
    expect(defaultMac(0)).toBe("52:54:00:12:34:56");
    const plain = bootCheckArgs({ ...o, secureBoot: false }, "kvm", "/q", "/w", "/w/vars.fd").join(" ");
    expect(plain).toContain("-machine q35,accel=kvm");
    expect(plain).not.toContain("smm=on");
    expect(plain).toContain("file=/usr/share/OVMF/OVMF_CODE_4M.fd");
  });
});

/** A pcap with one Ethernet frame: UDP from the MAC to port `port`. */
function pcapWith(mac: number[], port: number): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const frame = Buffer.alloc(14 + 20 + 8 + 10);
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...mac]).copy(frame, 0);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame[14 + 9] = 17;
  frame.writeUInt16BE(68, 34);
  frame.writeUInt16BE(port, 36);
  const rec = Buffer.alloc(16);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  return Buffer.concat([head, rec, frame]);
}

describe("dhcpClients", () => {
  it("finds the MAC of a DHCP request, and nothing in other traffic or garbage", () => {
    expect(dhcpClients(pcapWith([0, 0x0c, 0x29, 0x5e, 0x7a, 1], 67))).toEqual(["00:0c:29:5e:7a:01"]);
    expect(dhcpClients(pcapWith([0, 0x0c, 0x29, 0x5e, 0x7a, 1], 53))).toEqual([]);
    expect(dhcpClients(Buffer.from("not a pcap file at all, really not"))).toEqual([]);
    expect(dhcpClients(pcapWith([1, 2, 3, 4, 5, 6], 67).subarray(0, 50))).toEqual([]);
  });
});

describe("ppmToPng", () => {
  it("encodes a P6 image as a PNG whose pixels are the same", () => {
    const ppm = Buffer.concat([Buffer.from("P6\n# qemu\n2 1\n255\n"), Buffer.from([255, 0, 0, 0, 0, 255])]);
    const png = ppmToPng(ppm);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(2);
    expect(png.readUInt32BE(20)).toBe(1);
    const idatLen = png.readUInt32BE(33);
    expect(png.subarray(37, 41).toString()).toBe("IDAT");
    expect([...inflateSync(png.subarray(41, 41 + idatLen))]).toEqual([0, 255, 0, 0, 0, 0, 255]);
    expect(() => ppmToPng(Buffer.from("P3\n1 1\n255\n0 0 0"))).toThrow(/P6/);
  });
});
