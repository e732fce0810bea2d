import type { Appliance } from "./appliance";
import type { ConvertTarget } from "./converter";
import type { LinuxConversionReport, NicIdentity } from "./guest";
import { ifcfgAddresses, ifcfgInterface, ifupdownAddresses, ifupdownMacs, keyfileAddresses, keyfileInterface, linkFile, netplanAddresses, netplanEthernets, pairNics, pinnableName, udevNetRules, type ConfiguredInterface } from "./nic-identity";
import { dropHwaddr, ifupdownInterfaces, netplanInterfaces, renameInterfaces } from "./remap";

/**
 * Every NIC keeps its identity: the guest's interface for it (found by MAC,
 * else by ESXi's slot name) keeps its name on KVM, pinned to the MAC by a
 * systemd .link file, so addresses, firewall rules, VLANs and scripts that
 * name it keep working untouched. Only where the guest cannot pin names (no
 * systemd-udevd, or a NIC without a MAC) is the configuration renamed.
 */

interface ConfigFile {
  path: string;
  text: string;
  names: string[];
}

const UDEVD = ["/lib/systemd/systemd-udevd", "/usr/lib/systemd/systemd-udevd"];

/** A .link file written into the guest, which the initramfs must carry too (udev names NICs there already). */
export interface LinkFile {
  path: string;
  text: string;
}

export async function keepNetworkIdentity(app: Appliance, target: ConvertTarget, report: LinuxConversionReport): Promise<LinkFile[]> {
  if (!target.nics.length) return [];
  const read = (path: string) => app.readText(path);
  const list = async (dir: string) => ((await app.call<boolean>("is_dir", dir)) ? ((await app.tryCall<string[]>("ls", dir)) ?? []).sort().map((f) => `${dir}/${f}`) : []);

  const files: ConfigFile[] = [];
  const configured: ConfiguredInterface[] = [];
  for (const path of ["/etc/network/interfaces", ...(await list("/etc/network/interfaces.d"))]) {
    const text = await read(path);
    if (text === null) continue;
    const names = ifupdownInterfaces(text);
    files.push({ path, text, names });
    const macs = ifupdownMacs(text);
    const addrs = ifupdownAddresses(text);
    for (const name of names) configured.push({ name, mac: macs.get(name) ?? null, file: path, addresses: addrs.get(name) ?? [] });
  }
  for (const path of (await list("/etc/netplan")).filter((p) => /\.ya?ml$/.test(p))) {
    const text = await read(path);
    if (text === null) continue;
    files.push({ path, text, names: netplanInterfaces(text) });
    const addrs = netplanAddresses(text);
    for (const e of netplanEthernets(text)) configured.push({ ...e, file: path, addresses: addrs.get(e.name) ?? [] });
  }
  for (const path of (await list("/etc/sysconfig/network-scripts")).filter((p) => /\/ifcfg-(?!lo$)/.test(p))) {
    const text = await read(path);
    if (text === null) continue;
    const i = ifcfgInterface(text, path.replace(/^.*ifcfg-/, ""));
    files.push({ path, text, names: [i.name] });
    configured.push({ ...i, file: path, addresses: ifcfgAddresses(text) });
  }
  for (const path of await list("/etc/NetworkManager/system-connections")) {
    const text = await read(path);
    if (text === null) continue;
    const k = keyfileInterface(text);
    if (k.name) files.push({ path, text, names: [k.name] });
    if (k.name || k.mac) configured.push({ name: k.name ?? "", mac: k.mac, file: path, addresses: keyfileAddresses(text) });
  }
  const udevRules = await read("/etc/udev/rules.d/70-persistent-net.rules");
  if (udevRules) for (const r of udevNetRules(udevRules)) configured.push({ ...r, file: "/etc/udev/rules.d/70-persistent-net.rules" });

  // With net.ifnames=0 the kernel names NICs eth0, eth1... in PCI order; a MAC-keyed udev rule still holds them.
  const cmdline = [(await read("/etc/default/grub")) ?? "", (await read("/etc/kernel/cmdline")) ?? ""].join("\n");
  const kernelNames = /(^|[\s"'])net\.ifnames=0(?=[\s"']|$)/m.test(cmdline);
  const canPin = !kernelNames && (await app.anyFile(UDEVD));

  const pairs = pairNics(target.nics, configured.filter((c) => c.name));
  const renames = new Map<string, string>();
  const identities: NicIdentity[] = [];
  const links: LinkFile[] = [];
  for (const p of pairs) {
    const mine = configured.filter((c) => c.name === p.guestName || (p.nic.mac !== null && c.mac === p.nic.mac));
    const files = mine.map((c) => c.file);
    const addresses = [...new Set(mine.flatMap((c) => c.addresses ?? []))];
    const base = { sourceId: p.nic.sourceId, mac: p.nic.mac, guestName: p.guestName, files: [...new Set(files)], addresses };
    if (kernelNames) {
      identities.push({ ...base, pairedBy: "kernel-names", approach: "kept", kvmName: p.guestName ?? "eth*", reason: "the guest uses kernel names (net.ifnames=0): eth0, eth1... do not depend on the PCI slot" });
      continue;
    }
    if (!p.guestName) {
      identities.push({ ...base, pairedBy: "none", approach: "kept", kvmName: p.nic.kvmName, reason: `no interface of the guest's configuration has this NIC's MAC and the VMX gives no PCI slot; it comes up as ${p.nic.kvmName}` });
      continue;
    }
    const how = p.pairedBy === "mac" ? `its MAC is configured for ${p.guestName}` : `ESXi's PCI slot named it ${p.guestName}`;
    if (canPin && p.nic.mac && pinnableName(p.guestName)) {
      const link = `/etc/systemd/network/50-ferry-${p.guestName}.link`;
      await app.call("mkdir_p", "/etc/systemd/network");
      const text = linkFile(p.guestName, p.nic.mac, p.nic.sourceId);
      await app.writeText(link, text);
      links.push({ path: link, text });
      identities.push({ ...base, pairedBy: p.pairedBy, approach: "pinned", kvmName: p.guestName, files: [link, ...base.files], reason: `${how}; pinned to ${p.nic.mac} by ${link}, so it stays ${p.guestName} on KVM (not ${p.nic.kvmName})` });
      continue;
    }
    if (p.guestName !== p.nic.kvmName && files.length) renames.set(p.guestName, p.nic.kvmName);
    const why = !canPin ? "the guest has no systemd-udevd to pin names with" : !p.nic.mac ? "the NIC has no MAC to pin its name to" : `${p.guestName} cannot be pinned`;
    identities.push({ ...base, pairedBy: p.pairedBy, approach: files.length && p.guestName !== p.nic.kvmName ? "renamed" : "kept", kvmName: p.nic.kvmName, reason: `${how}; ${why}, so its configuration is renamed to ${p.nic.kvmName}` });
  }

  // HWADDR= stays valid while every NIC keeps its MAC; it goes when one gets a new MAC.
  const macsKept = target.nics.every((n) => n.mac);
  for (const f of files) {
    if (!renames.size) break;
    const r = renameInterfaces(f.path.includes("ifcfg-") && !macsKept ? dropHwaddr(f.text) : f.text, renames);
    if (!r.edits.length) continue;
    await app.writeText(f.path, r.text);
    let path = f.path;
    const to = f.path.includes("/ifcfg-") ? renames.get(f.names[0]!) : undefined;
    if (to) {
      path = f.path.replace(/ifcfg-.*$/, `ifcfg-${to}`);
      await app.call("mv", f.path, path);
    }
    for (const e of r.edits) report.network.push({ file: path, ...e });
  }
  report.nics = identities;
  for (const i of identities) target.log(`network: ${i.sourceId} (${i.mac ?? "no MAC"}): ${i.approach} ${i.kvmName}: ${i.reason}`);
  return links;
}
