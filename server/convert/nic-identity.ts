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

/** netplan: each entry under `ethernets:`, its `set-name:` (else its id) and `match: macaddress:`. */
export function netplanEthernets(text: string): Array<{ name: string; mac: string | null }> {
  const out: Array<{ name: string; mac: string | null; setName: string | null }> = [];
  let inEthernets = false;
  let idIndent = -1;
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
    if (!key) continue;
    if (idIndent === -1) idIndent = lead;
    if (lead === idIndent) {
      out.push({ name: key[1]!, mac: null, setName: null });
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur) continue;
    const value = key[2]!.trim().replace(/^["']|["']$/g, "");
    if (key[1] === "macaddress" && MAC.test(value)) cur.mac = normalMac(value);
    if (key[1] === "set-name" && value) cur.setName = value;
  }
  return out.map((e) => ({ name: e.setName ?? e.name, mac: e.mac }));
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
