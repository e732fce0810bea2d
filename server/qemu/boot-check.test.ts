import { describe, expect, it } from "vitest";
import { inflateSync } from "node:zlib";
import { bootCheckArgs } from "./boot-check";
import { consoleText, judgeConsole } from "./console";
import { dhcpClients } from "./pcap";
import { ppmToPng } from "./png";

describe("judgeConsole", () => {
  it("passes on a getty login prompt, even with kernel messages after it on the line", () => {
    expect(judgeConsole("Debian GNU/Linux 12 debian12 ttyS0\n\ndebian12 login: [   24.97] kvm: Nested")).toEqual({ state: "booted", line: "debian12 login:" });
  });

  it("fails at once on the initramfs giving up, a panic or emergency mode, quoting the line", () => {
    const alert = "Begin: Running /scripts/local-block ... done.\nGave up waiting for root file system device.  Common problems:\nALERT!  /dev/sda1 does not exist.  Dropping to a shell!\n(initramfs) ";
    expect(judgeConsole(alert)).toEqual({ state: "failed", line: "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!" });
    expect(judgeConsole("[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\n").state).toBe("failed");
    expect(judgeConsole("You are in emergency mode. After logging in, type ...\n").state).toBe("failed");
  });

  it("waits while the guest is still booting", () => {
    expect(judgeConsole("[    0.000000] Linux version 6.1.0\nLoading initial ramdisk ...\n")).toEqual({ state: "waiting", line: null });
  });

  it("strips terminal colours and carriage returns", () => {
    expect(consoleText("[\x1b[0;32m  OK  \x1b[0m] Started\r\n")).toBe("[  OK  ] Started\n");
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
    expect(args).toContain("-machine q35,accel=tcg -cpu max -m 2048 -smp 2");
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
