import type { ConversionNic } from "../plan";

/**
 * Which guest interface is which NIC: pure, so each rule is tested alone.
 * A NIC pairs with the interface its MAC is configured on; else with the
 * name ESXi's PCI slot gave it (ens192); never by order of mention, which
 * says nothing about which NIC is which.
 */

/** An interface the guest's configuration names, and the MAC it binds to, if any. */
export interface ConfiguredInterface {
  name: string;
  mac: string | null;
  file: string;
  /** Static IPv4 addresses configured for it (`192.168.50.10/24`). */
  addresses?: string[];
}

export interface NicPairing {
  nic: ConversionNic;
  guestName: string | null;
  pairedBy: "mac" | "pci-slot" | "none";
}

const MAC = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;
const normalMac = (m: string) => m.trim().toLowerCase().replace(/-/g, ":");

export function pairNics(nics: ConversionNic[], configured: ConfiguredInterface[]): NicPairing[] {
  const taken = new Set<string>();
  const byMac = nics.map((nic) => {
    const hit = nic.mac ? configured.find((c) => c.mac !== null && c.mac === nic.mac && !taken.has(c.name)) : undefined;
    if (hit) taken.add(hit.name);
    return hit?.name ?? null;
  });
  return nics.map((nic, i) => {
    if (byMac[i]) return { nic, guestName: byMac[i]!, pairedBy: "mac" as const };
    if (nic.vmwareName && !taken.has(nic.vmwareName)) {
      taken.add(nic.vmwareName);
      return { nic, guestName: nic.vmwareName, pairedBy: "pci-slot" as const };
    }
    return { nic, guestName: null, pairedBy: "none" as const };
  });
}

/** ifcfg-* (RHEL's network-scripts): DEVICE= (else the file's suffix) and HWADDR=. */
export function ifcfgInterface(text: string, suffix: string): { name: string; mac: string | null } {
  const get = (k: string) => new RegExp(`^\\s*${k}=["']?([^"'\\n]*)["']?\\s*$`, "m").exec(text)?.[1]?.trim() ?? null;
  const mac = get("HWADDR");
  return { name: get("DEVICE") || suffix, mac: mac && MAC.test(mac) ? normalMac(mac) : null };
}

/** A NetworkManager keyfile: [connection] interface-name= and [ethernet] mac-address=. */
export function keyfileInterface(text: string): { name: string | null; mac: string | null } {
  let section = "";
  let name: string | null = null;
  let mac: string | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!.trim();
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    if (section === "connection" && kv[1] === "interface-name") name = kv[2]!.trim() || null;
    if ((section === "ethernet" || section === "802-3-ethernet") && kv[1] === "mac-address" && MAC.test(kv[2]!.trim())) mac = normalMac(kv[2]!);
  }
  return { name, mac };
}

/** ifupdown: `hwaddress [ether] MAC` inside an iface stanza. */
export function ifupdownMacs(text: string): Map<string, string> {
  const macs = new Map<string, string>();
  let iface: string | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const i = /^iface\s+(\S+)/.exec(line);
    if (i) iface = i[1]!;
    else if (/^(auto|allow-|mapping|source)/.test(line)) iface = null;
    const h = /^hwaddress\s+(?:ether\s+)?(\S+)$/.exec(line);
    if (h && iface && MAC.test(h[1]!)) macs.set(iface, normalMac(h[1]!));
  }
  return macs;
}

/** Old udev persistent-net rules: `ATTR{address}=="MAC" ... NAME="eth0"`. */
export function udevNetRules(text: string): Array<{ name: string; mac: string }> {
  const out: Array<{ name: string; mac: string }> = [];
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    const mac = /ATTRS?\{address\}=="([0-9a-fA-F:]{17})"/.exec(line)?.[1];
    const name = /NAME="([^"]+)"/.exec(line)?.[1];
    if (mac && name) out.push({ name, mac: normalMac(mac) });
  }
  return out;
}

/** A systemd .link file that gives the NIC with this MAC the name it had on VMware. */
export function linkFile(name: string, mac: string, sourceId: string): string {
  return [
    `# Written by Ferry when this guest moved from VMware to KVM: ${sourceId} keeps`,
    `# the name it had on VMware, so the network configuration, firewall rules and`,
    `# scripts that name it keep working. Remove this file to get KVM's name.`,
    "[Match]",
    `MACAddress=${mac}`,
    "",
    "[Link]",
    `Name=${name}`,
    "",
  ].join("\n");
}

/** Names a .link file may give: what the kernel and udev accept, and never a kernel name (eth0) they would race for. */
export function pinnableName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name) && !/^eth\d+$/.test(name);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** `A/N`, `A` with a netmask, or nothing when it is not an IPv4 address. */
export function ipv4Cidr(address: string, netmask?: string | null): string | null {
  const [a, n] = address.trim().split("/");
  if (!a || !IPV4.test(a)) return null;
  if (n !== undefined) return /^\d{1,2}$/.test(n) && Number(n) <= 32 ? `${a}/${Number(n)}` : null;
  if (netmask && IPV4.test(netmask)) {
    const bits = netmask.split(".").map(Number).reduce((s, o) => s + o.toString(2).replace(/0/g, "").length, 0);
    return `${a}/${bits}`;
  }
  return `${a}/24`;
}

/** ifupdown: the static addresses of each `iface X inet static` stanza. */
export function ifupdownAddresses(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let iface: string | null = null;
  let pending: { address: string; netmask: string | null } | null = null;
  const flush = () => {
    if (iface && pending) {
      const c = ipv4Cidr(pending.address, pending.netmask);
      if (c) out.set(iface, [...(out.get(iface) ?? []), c]);
    }
    pending = null;
  };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const i = /^iface\s+(\S+)\s+inet\s+(\S+)/.exec(line);
    if (i || /^(auto|allow-|mapping|source|iface)/.test(line)) {
      flush();
      iface = i && i[2] === "static" ? i[1]! : null;
      continue;
    }
    const a = /^address\s+(\S+)/.exec(line);
    if (a && iface) {
      flush();
      pending = { address: a[1]!, netmask: null };
    }
    const m = /^netmask\s+(\S+)/.exec(line);
    if (m && pending) pending.netmask = m[1]!;
  }
  flush();
  return out;
}

/** NetworkManager keyfile: `[ipv4] address1=A/N,GW` (and `addresses=`). */
export function keyfileAddresses(text: string): string[] {
  let section = "";
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const s = /^\[(.+)\]$/.exec(line);
    if (s) section = s[1]!.trim();
    const kv = /^(address\d*|addresses)\s*=\s*(.+)$/.exec(line);
    if (section === "ipv4" && kv) for (const part of kv[2]!.split(";")) {
      const c = ipv4Cidr(part.split(",")[0]!);
      if (c) out.push(c);
    }
  }
  return out;
}

/** ifcfg: IPADDR= with PREFIX= or NETMASK=. */
export function ifcfgAddresses(text: string): string[] {
  const get = (k: string) => new RegExp(`^\\s*${k}=["']?([^"'\\n]*)["']?\\s*$`, "m").exec(text)?.[1]?.trim() ?? null;
  const ip = get("IPADDR") ?? get("IPADDR0");
  if (!ip) return [];
  const prefix = get("PREFIX") ?? get("PREFIX0");
  const c = prefix ? ipv4Cidr(`${ip}/${prefix}`) : ipv4Cidr(ip, get("NETMASK") ?? get("NETMASK0"));
  return c ? [c] : [];
}

interface NetplanEntry {
  id: string;
  setName: string | null;
  mac: string | null;
  /** Static IPv4 addresses (`addresses:` inline or one per line). */
  addresses: string[];
}

/** One walk over netplan's `ethernets:` section: each entry's id, `set-name:`, `match: macaddress:` and `addresses:`. */
function netplanEntries(text: string): NetplanEntry[] {
  const out: NetplanEntry[] = [];
  let inEthernets = false;
  let idIndent = -1;
  let listIndent = -1;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "");
    if (!line.trim()) continue;
    const lead = line.length - line.trimStart().length;
    if (/^\s*ethernets:\s*$/.test(line)) {
      inEthernets = true;
      idIndent = -1;
      continue;
    }
    if (!inEthernets) continue;
    if (idIndent !== -1 && lead < idIndent) {
      inEthernets = false;
      continue;
    }
    const key = /^\s*["']?([A-Za-z0-9_.-]+)["']?:\s*(.*)$/.exec(line);
    if (key && (idIndent === -1 || lead === idIndent)) {
      idIndent = lead;
      out.push({ id: key[1]!, setName: null, mac: null, addresses: [] });
      listIndent = -1;
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur) continue;
    const add = (v: string) => {
      const c = ipv4Cidr(v.replace(/["'\[\]]/g, ""));
      if (c) cur.addresses.push(c);
    };
    const item = /^\s*-\s*(.+)$/.exec(line);
    if (item && listIndent !== -1 && lead > listIndent) {
      add(item[1]!);
      continue;
    }
    if (!key) continue;
    listIndent = -1;
    const value = key[2]!.trim().replace(/^["']|["']$/g, "");
    if (key[1] === "macaddress" && MAC.test(value)) cur.mac = normalMac(value);
    if (key[1] === "set-name" && value) cur.setName = value;
    if (key[1] === "addresses") {
      if (key[2]!.trim()) for (const v of key[2]!.split(",")) add(v);
      else listIndent = lead;
    }
  }
  return out;
}

/** netplan: each entry under `ethernets:`, its `set-name:` (else its id) and `match: macaddress:`. */
export function netplanEthernets(text: string): Array<{ name: string; mac: string | null }> {
  return netplanEntries(text).map((e) => ({ name: e.setName ?? e.id, mac: e.mac }));
}

/** netplan: each ethernet's static IPv4 addresses, by the name it gets. */
export function netplanAddresses(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of netplanEntries(text)) {
    const name = e.setName ?? e.id;
    if (e.addresses.length) out.set(name, [...(out.get(name) ?? []), ...e.addresses]);
  }
  return out;
}
