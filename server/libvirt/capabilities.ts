import { FerryError } from "../errors";

/**
 * What a libvirt host offers, from `virsh capabilities`: per guest
 * architecture, its domain types (kvm, qemu) and machine types with the
 * canonical names libvirt resolves aliases to (q35 → pc-q35-7.2). Pure.
 */

export interface HostArch {
  domainTypes: string[];
  machines: Array<{ name: string; canonical: string | null }>;
}

export function xmlUnescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(tag);
  return m ? xmlUnescape(m[1] ?? m[2] ?? "") : null;
}

/** The hvm guests of a capabilities document, by architecture. */
export function parseCapabilities(xml: string): Map<string, HostArch> {
  const out = new Map<string, HostArch>();
  for (const g of xml.matchAll(/<guest>([\s\S]*?)<\/guest>/g)) {
    const body = g[1]!;
    if (!/<os_type>\s*hvm\s*<\/os_type>/.test(body)) continue;
    const a = /<arch\s[^>]*>([\s\S]*?)<\/arch>/.exec(body);
    const archTag = /<arch\s[^>]*>/.exec(body)?.[0];
    const arch = archTag ? attr(archTag, "name") : null;
    if (!a || !arch) continue;
    const host: HostArch = out.get(arch) ?? { domainTypes: [], machines: [] };
    for (const m of a[1]!.matchAll(/<machine(\s[^>]*)?>([^<]+)<\/machine>/g)) {
      host.machines.push({ name: xmlUnescape(m[2]!.trim()), canonical: m[1] ? attr(m[1], "canonical") : null });
    }
    for (const d of a[1]!.matchAll(/<domain\s[^>]*>/g)) {
      const t = attr(d[0], "type");
      if (t && !host.domainTypes.includes(t)) host.domainTypes.push(t);
    }
    out.set(arch, host);
  }
  return out;
}

/** Compare pc-q35-7.2 and pc-q35-10.0 by their version numbers. */
function q35Version(name: string): number[] | null {
  const m = /^pc-q35-(\d+(?:\.\d+)*)$/.exec(name);
  return m ? m[1]!.split(".").map(Number) : null;
}

/**
 * The domain type (kvm when offered, else qemu) and the q35 machine type a
 * host offers for x86_64 guests: the one its `q35` alias names, else the
 * newest pc-q35-X.Y it lists.
 */
export function hostChoice(caps: Map<string, HostArch>, uri: string): { domainType: "kvm" | "qemu"; machine: string } {
  const x = caps.get("x86_64");
  if (!x) {
    throw new FerryError({ code: "libvirt.no-x86_64", message: `the libvirt host at ${uri} offers no x86_64 hvm guests (its capabilities list ${[...caps.keys()].join(", ") || "none"})`, file: null, hint: "install QEMU for x86_64 on that host (Debian: qemu-system-x86), then restart libvirt" });
  }
  const domainType = x.domainTypes.includes("kvm") ? "kvm" : x.domainTypes.includes("qemu") ? "qemu" : null;
  if (!domainType) {
    throw new FerryError({ code: "libvirt.no-domain-type", message: `the libvirt host at ${uri} offers neither kvm nor qemu domains for x86_64 (only ${x.domainTypes.join(", ") || "none"})`, file: null, hint: "point -oc at a QEMU/KVM libvirt (qemu:///system)" });
  }
  const alias = x.machines.find((m) => m.name === "q35" && m.canonical);
  const versioned = x.machines
    .map((m) => m.name)
    .filter((n) => q35Version(n))
    .sort((a, b) => {
      const va = q35Version(a)!;
      const vb = q35Version(b)!;
      for (let i = 0; i < Math.max(va.length, vb.length); i++) if ((va[i] ?? 0) !== (vb[i] ?? 0)) return (vb[i] ?? 0) - (va[i] ?? 0);
      return 0;
    });
  const machine = alias?.canonical ?? versioned[0] ?? null;
  if (!machine) {
    throw new FerryError({ code: "libvirt.no-q35", message: `the libvirt host at ${uri} offers no q35 machine type for x86_64 guests`, file: null, hint: "the converted guest needs PCIe (q35): upgrade QEMU on that host" });
  }
  return { domainType, machine };
}
