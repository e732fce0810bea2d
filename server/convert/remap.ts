/**
 * Text edits the conversion makes to guest files, kept pure so each rule is
 * tested on its own: device names (fstab, crypttab, grub), interface names
 * (ifupdown, netplan, ifcfg, NetworkManager) and the serial console.
 */

export interface Edit {
  from: string;
  to: string;
}

const DEVICE_RE = /\/dev\/((?:sd|hd|xvd)[a-z]{1,3})(\d*)(?![a-z])/g;

/** Replace `/dev/sdXN` with the target's name; UUID=, LABEL= and /dev/disk/by-* stay as they are. */
export function remapDevices(text: string, map: Map<string, string>): { text: string; edits: Edit[] } {
  const edits: Edit[] = [];
  const out = text.replace(DEVICE_RE, (whole, disk: string, part: string) => {
    const target = map.get(disk);
    if (!target) return whole;
    const to = `/dev/${target}${part}`;
    if (!edits.some((e) => e.from === whole)) edits.push({ from: whole, to });
    return to;
  });
  return { text: out, edits };
}

const PHYSICAL_NIC = /^(eth\d+|ens\d+(?:f\d+)?|enp\d+s\d+(?:f\d+)?|eno\d+|em\d+)$/;

/** The interfaces an ifupdown file configures, in order of first mention (not lo, not VLANs or bridges). */
export function ifupdownInterfaces(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^(?:iface|auto|allow-hotplug|allow-auto)\s+(.+)$/.exec(line);
    if (!m) continue;
    const words = m[1]!.split(/\s+/);
    const candidates = line.startsWith("iface") ? [words[0]!] : words;
    for (const name of candidates) if (PHYSICAL_NIC.test(name) && !names.includes(name)) names.push(name);
  }
  return names;
}

/** The interfaces a netplan file configures under `ethernets:`. */
export function netplanInterfaces(text: string): string[] {
  const names: string[] = [];
  let inEthernets = false;
  let indent = -1;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "");
    if (!line.trim()) continue;
    const lead = line.length - line.trimStart().length;
    if (/^\s*ethernets:\s*$/.test(line)) {
      inEthernets = true;
      indent = -1;
      continue;
    }
    if (!inEthernets) continue;
    const m = /^(\s*)([A-Za-z0-9_.-]+):\s*$/.exec(line);
    if (indent === -1 && m) indent = lead;
    if (lead < indent || (indent !== -1 && lead === 0)) {
      inEthernets = false;
      continue;
    }
    if (m && lead === indent && PHYSICAL_NIC.test(m[2]!)) names.push(m[2]!);
  }
  return names;
}

/** Rename interfaces as whole words (ens192 must not touch ens1920). */
export function renameInterfaces(text: string, renames: Map<string, string>): { text: string; edits: Edit[] } {
  const edits: Edit[] = [];
  if (!renames.size) return { text, edits };
  // One pass, so a swap (enp2s0 → enp1s0 while enp1s0 → enp2s0) does not rename twice.
  const names = [...renames.keys()].sort((a, b) => b.length - a.length).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(?<![A-Za-z0-9_.-])(${names.join("|")})(?![A-Za-z0-9_-])`, "g");
  const out = text.replace(re, (from: string) => {
    const to = renames.get(from)!;
    if (!edits.some((e) => e.from === from)) edits.push({ from, to });
    return to;
  });
  return { text: out, edits };
}

/** Pair the guest's configured interfaces with the target's NIC names, in order. */
export function interfaceRenames(configured: string[], targetNames: string[]): Map<string, string> {
  const map = new Map<string, string>();
  configured.slice(0, targetNames.length).forEach((name, i) => {
    if (name !== targetNames[i]) map.set(name, targetNames[i]!);
  });
  return map;
}

/** ifcfg (RHEL): the MAC may change on KVM, so HWADDR goes; DEVICE and NAME follow the rename. */
export function dropHwaddr(text: string): string {
  return text.replace(/^\s*HWADDR=.*\n?/gm, "");
}

/**
 * /etc/default/grub: make sure the kernel also talks to the first serial
 * port, where KVM's console (and Ferry's boot check) listen.
 */
export function ensureSerialConsole(defaultGrub: string): { text: string; changed: boolean } {
  const re = /^(GRUB_CMDLINE_LINUX=)(["']?)(.*?)\2[ \t]*$/m;
  const m = re.exec(defaultGrub);
  if (m && /(^|\s)console=ttyS0/.test(m[3]!)) return { text: defaultGrub, changed: false };
  if (m) {
    const args = [m[3]!.trim(), "console=tty0 console=ttyS0,115200n8"].filter(Boolean).join(" ");
    return { text: defaultGrub.replace(re, `$1"${args}"`), changed: true };
  }
  const sep = defaultGrub.endsWith("\n") || defaultGrub === "" ? "" : "\n";
  return { text: `${defaultGrub}${sep}GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"\n`, changed: true };
}

/** Lines to add to /etc/initramfs-tools/modules (or dracut's add_drivers) for the missing drivers. */
export function addModuleLines(modulesFile: string, drivers: string[]): string {
  const have = new Set(modulesFile.split("\n").map((l) => l.replace(/#.*/, "").trim().split(/\s+/)[0]));
  const add = drivers.filter((d) => !have.has(d));
  if (!add.length) return modulesFile;
  const sep = modulesFile === "" || modulesFile.endsWith("\n") ? "" : "\n";
  return `${modulesFile}${sep}# added by Ferry for KVM\n${add.join("\n")}\n`;
}

/**
 * After grub-mkconfig in the appliance, a `root=/dev/...` on the kernel
 * lines names the disk as the appliance's kernel saw it (sda, or sdb when
 * the appliance's own disk was found first): point it at the target's root.
 */
export function pinKernelRoot(grubCfg: string, rootDevice: string): { text: string; edits: Edit[] } {
  const edits: Edit[] = [];
  const text = grubCfg.replace(/^(\s*linux(?:16|efi)?\s+\S+.*?\sroot=)(\/dev\/(?:sd|hd|vd|xvd)[a-z]{1,3}\d*)(?=\s|$)/gm, (whole, head: string, dev: string) => {
    if (dev === rootDevice) return whole;
    if (!edits.some((e) => e.from === dev)) edits.push({ from: dev, to: rootDevice });
    return `${head}${rootDevice}`;
  });
  return { text, edits };
}
