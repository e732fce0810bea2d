import { describe, expect, it } from "vitest";
import { dhcpClients, macEvidence, pcapFrames } from "./pcap";

/** Captures built byte by byte, as qemu's filter-dump writes them (pcap, link type Ethernet). */

const mac = (s: string) => s.split(":").map((x) => parseInt(x, 16));
const ip = (s: string) => s.split(".").map(Number);
const BROADCAST = "ff:ff:ff:ff:ff:ff";

function ethernet(src: string, dst: string, type: number, payload: number[], vlan: number | null = null): Buffer {
  const tag = vlan === null ? [] : [0x81, 0x00, (vlan >> 8) & 0x0f, vlan & 0xff];
  return Buffer.from([...mac(dst), ...mac(src), ...tag, type >> 8, type & 0xff, ...payload]);
}

/** An ARP packet: op 1 request, 2 reply. A gratuitous ARP asks for its own address. */
function arp(op: 1 | 2, senderMac: string, senderIp: string, targetMac: string, targetIp: string): number[] {
  return [0, 1, 0x08, 0x00, 6, 4, 0, op, ...mac(senderMac), ...ip(senderIp), ...mac(targetMac), ...ip(targetIp)];
}

/** An IPv4 packet carrying UDP from port `sport` to `dport`. */
function udp(src: string, dst: string, sport: number, dport: number): number[] {
  const header = [0x45, 0, 0, 28 + 4, 0, 0, 0, 0, 64, 17, 0, 0, ...ip(src), ...ip(dst)];
  return [...header, sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 12, 0, 0, 1, 2, 3, 4];
}

function pcap(frames: Buffer[], bigEndian = false): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (bigEndian) b.writeUInt32BE(n);
    else b.writeUInt32LE(n);
    return b;
  };
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    if (bigEndian) b.writeUInt16BE(n);
    else b.writeUInt16LE(n);
    return b;
  };
  const head = Buffer.concat([u32(0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(65535), u32(1)]);
  return Buffer.concat([head, ...frames.flatMap((f, i) => [u32(1700000000 + i), u32(0), u32(f.length), u32(f.length), f])]);
}

const GUEST = "52:54:00:aa:bb:01";
const OTHER = "52:54:00:aa:bb:02";
const SLIRP = "52:55:0a:00:02:02";

describe("macEvidence", () => {
  it("tells per MAC: a DHCP discover (from 0.0.0.0, no address), a static address's ARP request, a gratuitous ARP, an IPv4 source", () => {
    const capture = pcap([
      ethernet(GUEST, BROADCAST, 0x0800, udp("0.0.0.0", "255.255.255.255", 68, 67)),
      // An ARP probe (RFC 5227) announces no address yet.
      ethernet(GUEST, BROADCAST, 0x0806, arp(1, GUEST, "0.0.0.0", "00:00:00:00:00:00", "10.0.2.15")),
      ethernet(OTHER, BROADCAST, 0x0806, arp(1, OTHER, "192.168.7.20", "00:00:00:00:00:00", "192.168.7.1")),
      ethernet(OTHER, BROADCAST, 0x0806, arp(1, OTHER, "192.168.7.21", "00:00:00:00:00:00", "192.168.7.21")),
      ethernet(GUEST, SLIRP, 0x0800, udp("10.0.2.15", "10.0.2.3", 40000, 53)),
      // The host side's reply is its own MAC's evidence, not the guest's.
      ethernet(SLIRP, GUEST, 0x0806, arp(2, SLIRP, "10.0.2.2", GUEST, "10.0.2.15")),
    ]);
    const e = macEvidence(capture);
    expect(e.get(GUEST)).toEqual({ dhcp: true, addresses: ["10.0.2.15"] });
    expect(e.get(OTHER)).toEqual({ dhcp: false, addresses: ["192.168.7.20", "192.168.7.21"] });
    expect(e.get(SLIRP)).toEqual({ dhcp: false, addresses: ["10.0.2.2"] });
    expect(dhcpClients(capture)).toEqual([GUEST]);
  });

  it("looks through a VLAN tag, and reads an ARP reply for its sender", () => {
    const e = macEvidence(pcap([ethernet(GUEST, SLIRP, 0x0806, arp(2, GUEST, "10.20.0.5", SLIRP, "10.20.0.1"), 20), ethernet(GUEST, BROADCAST, 0x0800, udp("0.0.0.0", "255.255.255.255", 68, 67), 20)]));
    expect(e.get(GUEST)).toEqual({ dhcp: true, addresses: ["10.20.0.5"] });
  });

  it("reads a big-endian capture the same", () => {
    expect(macEvidence(pcap([ethernet(OTHER, BROADCAST, 0x0806, arp(1, OTHER, "172.16.0.9", "00:00:00:00:00:00", "172.16.0.9"))], true)).get(OTHER)).toEqual({ dhcp: false, addresses: ["172.16.0.9"] });
  });

  it("ignores what is not Ethernet ARP or IPv4: IPv6, ARP for other protocols, truncated frames, non-pcap bytes", () => {
    const ipv6 = ethernet(GUEST, BROADCAST, 0x86dd, new Array<number>(40).fill(0));
    const arpOther = ethernet(GUEST, BROADCAST, 0x0806, arp(1, GUEST, "10.0.0.1", BROADCAST, "10.0.0.2").map((b, i) => (i === 2 ? 0x86 : b)));
    const shortArp = ethernet(GUEST, BROADCAST, 0x0806, arp(1, GUEST, "10.0.0.1", BROADCAST, "10.0.0.2").slice(0, 20));
    const shortIp = ethernet(GUEST, BROADCAST, 0x0800, udp("10.0.0.1", "10.0.0.2", 68, 67).slice(0, 16));
    const e = macEvidence(pcap([ipv6, arpOther, shortArp, shortIp]));
    expect([...e.keys()]).toEqual([]);
    expect(macEvidence(Buffer.from("not a pcap file at all, really not")).size).toBe(0);
    // A record that claims more bytes than the file holds yields what is there.
    const whole = pcap([ethernet(GUEST, BROADCAST, 0x0800, udp("0.0.0.0", "255.255.255.255", 68, 67))]);
    expect(pcapFrames(whole.subarray(0, 50))).toEqual([whole.subarray(40, 50)]);
    expect(dhcpClients(whole.subarray(0, 50))).toEqual([]);
    // Another link type (here 113, Linux cooked) has no Ethernet frames.
    const cooked = Buffer.from(whole);
    cooked.writeUInt32LE(113, 20);
    expect(pcapFrames(cooked)).toEqual([]);
  });
});
