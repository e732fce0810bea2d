/**
 * A pcap reader just big enough for the boot check: which MAC addresses
 * sent a DHCP request (UDP to port 67). qemu's filter-dump writes the file.
 */
export function dhcpClients(pcap: Buffer): string[] {
  if (pcap.length < 24) return [];
  const magic = pcap.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = pcap.readUInt32BE(0) === 0xa1b2c3d4 || pcap.readUInt32BE(0) === 0xa1b23c4d;
  if (!le && !be) return [];
  const u32 = (at: number) => (le ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  if (u32(20) !== 1) return []; // link type: Ethernet
  const macs = new Set<string>();
  let p = 24;
  while (p + 16 <= pcap.length) {
    const len = u32(p + 8);
    const frame = pcap.subarray(p + 16, Math.min(p + 16 + len, pcap.length));
    p += 16 + len;
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14]! & 0x0f) * 4;
    if (frame[14 + 9] !== 17 || frame.length < 14 + ihl + 8) continue;
    if (frame.readUInt16BE(14 + ihl + 2) !== 67) continue;
    macs.add([...frame.subarray(6, 12)].map((b) => b.toString(16).padStart(2, "0")).join(":"));
  }
  return [...macs];
}
