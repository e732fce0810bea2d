/**
 * A pcap reader just big enough for the boot check's network evidence.
 * qemu's filter-dump writes one file per NIC; for each MAC address that
 * sent frames, it tells whether it sent a DHCP request (UDP to port 67) and
 * which IPv4 addresses it announced: the sender address of its ARP
 * requests, replies and gratuitous ARPs, and the source address of its
 * IPv4 packets (0.0.0.0, a host without an address yet, is left out).
 * 802.1Q/802.1ad VLAN tags are looked through. Pure: bytes in, data out.
 */

export interface MacEvidence {
  dhcp: boolean;
  /** IPv4 addresses in the order first seen. */
  addresses: string[];
}

const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

const macText = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
const ipText = (b: Uint8Array) => [...b].join(".");

/** The Ethernet frames of a pcap file (link type Ethernet, either byte order, µs or ns timestamps); anything else has none. */
export function pcapFrames(pcap: Buffer): Buffer[] {
  if (pcap.length < 24) return [];
  const le = [0xa1b2c3d4, 0xa1b23c4d].includes(pcap.readUInt32LE(0));
  const be = [0xa1b2c3d4, 0xa1b23c4d].includes(pcap.readUInt32BE(0));
  if (!le && !be) return [];
  const u32 = (at: number) => (le ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  if (u32(20) !== 1) return []; // link type: Ethernet
  const frames: Buffer[] = [];
  let p = 24;
  while (p + 16 <= pcap.length) {
    const len = u32(p + 8);
    frames.push(pcap.subarray(p + 16, Math.min(p + 16 + len, pcap.length)));
    p += 16 + len;
  }
  return frames;
}

/** What each source MAC in the capture sent, keyed by its lower-case `aa:bb:cc:dd:ee:ff`. */
export function macEvidence(pcap: Buffer): Map<string, MacEvidence> {
  const out = new Map<string, MacEvidence>();
  const of = (mac: string) => {
    let e = out.get(mac);
    if (!e) out.set(mac, (e = { dhcp: false, addresses: [] }));
    return e;
  };
  const announce = (mac: string, ip: Uint8Array) => {
    const text = ipText(ip);
    if (text === "0.0.0.0") return;
    const e = of(mac);
    if (!e.addresses.includes(text)) e.addresses.push(text);
  };
  for (const frame of pcapFrames(pcap)) {
    if (frame.length < 14) continue;
    const src = macText(frame.subarray(6, 12));
    let at = 12;
    let type = frame.readUInt16BE(at);
    while (VLAN_TAGS.has(type) && at + 6 <= frame.length) {
      at += 4;
      type = frame.readUInt16BE(at);
    }
    const payload = frame.subarray(at + 2);
    if (type === ETH_ARP) {
      // htype Ethernet, ptype IPv4, 6-byte and 4-byte addresses; the sender is whoever the ARP speaks for.
      if (payload.length < 28 || payload.readUInt16BE(0) !== 1 || payload.readUInt16BE(2) !== ETH_IPV4 || payload[4] !== 6 || payload[5] !== 4) continue;
      announce(macText(payload.subarray(8, 14)), payload.subarray(14, 18));
    } else if (type === ETH_IPV4) {
      if (payload.length < 20 || payload[0]! >> 4 !== 4) continue;
      const ihl = (payload[0]! & 0x0f) * 4;
      if (ihl < 20 || payload.length < ihl) continue;
      announce(src, payload.subarray(12, 16));
      if (payload[9] === 17 && payload.length >= ihl + 4 && payload.readUInt16BE(ihl + 2) === 67) of(src).dhcp = true;
    }
  }
  return out;
}

/** MACs that sent a DHCP request (UDP to port 67). */
export function dhcpClients(pcap: Buffer): string[] {
  return [...macEvidence(pcap)].filter(([, e]) => e.dhcp).map(([mac]) => mac);
}
