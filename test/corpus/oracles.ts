/**
 * Readers for the two oracles in ../shared/corpus: libvirt's expected
 * domain XML and virt-v2v's --print-source text. Small and strict: they only
 * read what these files contain, and fail loudly on anything else.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const CORPUS = join(__dirname, "..", "..", "..", "shared", "corpus");
export const corpusPresent = existsSync(join(CORPUS, "libvirt"));

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)='([^']*)'/g)) out[m[1]!] = unescapeXml(m[2]!);
  return out;
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, "&");
}

export interface LibvirtDisk {
  device: string;
  bus: string;
  /** SCSI/SATA: controller index; IDE: bus index. */
  controller: number;
  unit: number;
  file: string | null;
}

export interface LibvirtNic {
  type: string;
  mac: string | null;
  model: string | null;
  source: Record<string, string>;
}

export interface LibvirtDomain {
  name: string;
  memoryKiB: number;
  vcpus: number;
  firmware: "bios" | "uefi";
  disks: LibvirtDisk[];
  nics: LibvirtNic[];
  topology: { sockets: number; cores: number; threads: number } | null;
}

/** `[datastore] directory/a.vmdk` or `[DS] a/b.vmdk` → the file name part. */
export function baseName(file: string): string {
  return file.replace(/^\[[^\]]*\]\s*/, "").split("/").pop()!;
}

export function readLibvirtXml(path: string): LibvirtDomain {
  const xml = readFileSync(path, "utf8");
  const name = unescapeXml(/<name>([^<]*)<\/name>/.exec(xml)![1]!);
  const mem = /<memory unit='KiB'>(\d+)<\/memory>/.exec(xml);
  const vcpu = /<vcpu[^>]*>(\d+)<\/vcpu>/.exec(xml);
  const osTag = /<os( [^>]*)?>/.exec(xml)![0];
  const loaderEfi = /<loader[^>]*type='pflash'/.test(xml);
  const topo = /<topology ([^>]*)\/>/.exec(xml);
  const disks: LibvirtDisk[] = [];
  for (const m of xml.matchAll(/<disk ([^>]*)>([\s\S]*?)<\/disk>/g)) {
    const a = attrs(m[1]!);
    const body = m[2]!;
    const target = attrs(/<target [^>]*\/>/.exec(body)![0]);
    const addr = attrs(/<address [^>]*\/>/.exec(body)![0]);
    const src = /<source ([^>]*)\/>/.exec(body);
    const bus = target.bus!;
    disks.push({
      device: a.device!,
      bus,
      controller: Number(bus === "ide" ? addr.bus : addr.controller),
      unit: Number(addr.unit),
      file: src ? (attrs(src[1]!).file ?? attrs(src[1]!).dev ?? null) : null,
    });
  }
  const nics: LibvirtNic[] = [];
  for (const m of xml.matchAll(/<interface ([^>]*)>([\s\S]*?)<\/interface>/g)) {
    const body = m[2]!;
    const mac = /<mac address='([^']*)'/.exec(body);
    const model = /<model type='([^']*)'/.exec(body);
    const src = /<source ([^>]*)\/>/.exec(body);
    nics.push({
      type: attrs(m[1]!).type!,
      mac: mac ? mac[1]! : null,
      model: model ? model[1]! : null,
      source: src ? attrs(src[1]!) : {},
    });
  }
  const t = topo ? attrs(topo[1]!) : null;
  return {
    name,
    memoryKiB: Number(mem![1]),
    vcpus: Number(vcpu![1]),
    firmware: /firmware='efi'/.test(osTag) || loaderEfi ? "uefi" : "bios",
    disks,
    nics,
    topology: t ? { sockets: Number(t.sockets), cores: Number(t.cores), threads: Number(t.threads) } : null,
  };
}

export interface V2vSource {
  name: string;
  genid: string | null;
  memoryBytes: number;
  vcpus: number;
  topology: string;
  firmware: string;
  disks: { index: number; bus: string }[];
  removable: string[];
  nics: { kind: "Network" | "Bridge"; name: string; mac: string | null; model: string | null }[];
}

export function readPrintSource(path: string): V2vSource {
  const text = readFileSync(path, "utf8");
  const field = (label: string) => {
    const m = new RegExp(`^\\s*${label}: ?(.*)$`, "m").exec(text);
    if (!m) throw new Error(`${path}: no "${label}" line`);
    return m[1]!;
  };
  const section = (from: string, to: string | null) => {
    const start = text.indexOf(`\n${from}:\n`);
    const end = to ? text.indexOf(`\n${to}:\n`, start) : text.length;
    return text
      .slice(start + from.length + 3, end)
      .split("\n")
      .filter((l) => l.startsWith("\t"))
      .map((l) => l.slice(1));
  };
  const nics = section("NICs", null).map((l) => {
    const m = /^(Network|Bridge) "([^"]*)"(?: mac: (\S+))?(?: \[([^\]]+)\])?$/.exec(l);
    if (!m) throw new Error(`${path}: NIC line not understood: ${l}`);
    return { kind: m[1] as "Network" | "Bridge", name: m[2]!, mac: m[3] ?? null, model: m[4] ?? null };
  });
  return {
    name: field("source name"),
    genid: field("VM genid") || null,
    memoryBytes: Number(/^(\d+)/.exec(field("memory"))![1]),
    vcpus: Number(field("nr vCPUs")),
    topology: field("CPU topology"),
    firmware: field("firmware"),
    disks: section("disks", "removable media").map((l) => {
      const m = /^(\d+) \[(\w+)\]$/.exec(l)!;
      return { index: Number(m[1]), bus: m[2]! };
    }),
    removable: section("removable media", "NICs"),
    nics,
  };
}
