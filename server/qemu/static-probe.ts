import { connect, createServer } from "node:net";

/**
 * A NIC with a static address sends nothing by itself at boot (no DHCP, and
 * Linux announces no IPv4 address unless asked), so the boot check asks:
 * the NIC's user-mode network is laid out as the guest's own subnet, and a
 * connection to a forwarded port makes qemu's network ARP for the guest's
 * address. The guest's ARP reply, from its MAC, is the proof that the
 * address came up on the NIC that had it on VMware. Pure apart from the
 * port helpers at the end.
 */

const toInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

export interface StaticNet {
  /** The guest's address. */
  address: string;
  /** `-netdev user` options that give qemu's network the guest's subnet. */
  netdev: string;
}

/** qemu user-network options for a guest at `cidr` (192.168.50.10/24); null when the subnet is too small to hold qemu's own addresses too. */
export function staticNet(cidr: string): StaticNet | null {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) return null;
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 28) return null;
  const address = m[1]!;
  const size = 2 ** (32 - prefix);
  const net = toInt(address) - (toInt(address) % size);
  // qemu needs a host (gateway), a DNS and a DHCP start address inside the subnet, none of them the guest's.
  const free = [1, 2, 3, 4, 5].map((k) => net + k).filter((n) => n !== toInt(address) && n < net + size - 1);
  if (free.length < 3) return null;
  const [host, dns, dhcp] = free.map(toIp);
  return { address, netdev: `net=${toIp(net)}/${prefix},host=${host},dns=${dns},dhcpstart=${dhcp}` };
}

/** A free TCP port on loopback (closed again at once: qemu binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Knock on a forwarded port; whatever answers (or nothing), qemu has asked the guest for its address. */
export function knock(port: number, ms = 3000): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const done = () => {
      s.destroy();
      resolve();
    };
    s.setTimeout(ms, done);
    s.once("error", done);
    s.once("connect", () => setTimeout(done, 500));
    s.once("close", done);
  });
}
