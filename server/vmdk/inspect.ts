import { basename, dirname } from "node:path";
import { FerryError } from "../errors";
import { localInput } from "../input/local";
import { sameFile, type DiskSource, type FileStat, type Input, type OpenFile } from "../input/input";
import type { Concern } from "../types";
import { resolveConfined, type ConfinedFile, type Confinement, type Where } from "./confine";
import { looksLikeDescriptor, MAX_DESCRIPTOR_BYTES, NO_PARENT, parseDescriptor, selfExtent, type Descriptor, type DescriptorExtent } from "./descriptor";
import type { ChainLink, DiskFacts, Extent } from "./disk-facts";
import { cowdAllocation, kdmvAllocation, type Allocation } from "./grains";
import { parseSparseHeader, SECTOR, sparseMagic, type KdmvHeader } from "./sparse-header";

/**
 * One disk, from its descriptor down to the base of its snapshot chain,
 * checked before any qemu-img process may see it. Refusals are FerryErrors;
 * problems that do not make reading unsafe (a CID mismatch, a missing
 * parent, a lock file) are concerns in the facts.
 */

export const MAX_CHAIN_DEPTH = 32;

const CREATE_TYPES = new Set(
  ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat", "streamOptimized", "vmfs", "vmfsSparse", "vmfsThin", "seSparse"].map((t) => t.toLowerCase()),
);
const DEVICE_TYPES = new Set(["vmfsRawDeviceMap", "vmfsPassthroughRawDeviceMap", "fullDevice", "partitionedDevice"].map((t) => t.toLowerCase()));

/** An open, read-only, non-following handle on a confined file, checked to be the file that was confined. */
class Handle {
  private constructor(private readonly file: OpenFile) {}
  get path(): string {
    return this.file.path;
  }
  get stat(): FileStat {
    return this.file.stat;
  }
  static async open(input: Input, path: string, expected: FileStat): Promise<Handle> {
    const changed = () => new FerryError({ code: "vmdk.path.changed", message: "changed while it was being checked", file: input.label(path), hint: "something is modifying the guest's folder; try again when it is idle" });
    let file: OpenFile;
    try {
      file = await input.open(path);
    } catch (e) {
      if (e instanceof FerryError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      // A symlink where the checked file was: swapped in after the check.
      if (code === "ELOOP") throw changed();
      throw new FerryError({ code: code === "ENOENT" ? "vmdk.missing" : "vmdk.unreadable", message: `cannot be opened (${code ?? (e as Error).message})`, file: input.label(path), hint: code === "ENOENT" ? "the file vanished while it was being checked" : "Ferry needs read access to the guest's files" });
    }
    if (file.stat.type !== "file" || !sameFile(file.stat, expected)) {
      await file.close();
      throw changed();
    }
    return new Handle(file);
  }
  read = (offset: number, length: number): Promise<Uint8Array> => this.file.read(offset, length);
  close(): Promise<void> {
    return this.file.close();
  }
}

async function withHandle<T>(input: Input, path: string, stat: FileStat, fn: (h: Handle) => Promise<T>): Promise<T> {
  const h = await Handle.open(input, path, stat);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

interface Context {
  confinement: Confinement;
  concerns: Concern[];
  files: Map<string, DiskFacts["files"][number]>;
  sources: Set<Allocation["source"] | "file-blocks">;
  visited: Set<string>;
}

function concern(ctx: Context, id: string, severity: Concern["severity"], message: string): void {
  ctx.concerns.push({ id, severity, message, device: null, lines: [] });
}

function addFile(ctx: Context, path: string, bytes: number, role: "descriptor" | "extent"): void {
  const had = ctx.files.get(path);
  if (had && had.role !== role) had.role = "descriptor+extent";
  else if (!had) ctx.files.set(path, { path, bytes, role });
}

/** Read the descriptor of a disk file: a text file, or the text embedded in a hosted sparse header. */
async function readDescriptor(h: Handle): Promise<{ descriptor: Descriptor; header: KdmvHeader | null }> {
  const head = await h.read(0, SECTOR);
  const magic = sparseMagic(head);
  if (magic === "KDMV") {
    const header = parseSparseHeader(head, h.path) as KdmvHeader;
    if (header.descriptorOffset === 0 || header.descriptorSectors === 0) {
      throw new FerryError({ code: "vmdk.extent-not-disk", message: "is a data extent of a larger disk, not a disk", file: h.path, hint: "give the disk's descriptor (NAME.vmdk), not one of its -s00N extents" });
    }
    const at = header.descriptorOffset * SECTOR;
    const len = header.descriptorSectors * SECTOR;
    if (at + len > h.stat.size) {
      throw new FerryError({ code: "vmdk.header.invalid", message: "the embedded descriptor lies past the end of the file", file: h.path, hint: "the disk file is truncated or damaged" });
    }
    const text = await h.read(at, len);
    if (text.byteLength === 0 || text[0] === 0) {
      // qemu-img reserves room for a descriptor in every extent of a split disk but fills only the first file's.
      throw new FerryError({ code: "vmdk.extent-not-disk", message: "is a data extent of a larger disk (its descriptor area is empty), not a disk", file: h.path, hint: "give the disk's descriptor (NAME.vmdk), not one of its -s00N extents" });
    }
    return { descriptor: parseDescriptor(text, h.path), header };
  }
  if (magic === "COWD" || magic === "SESPARSE") {
    throw new FerryError({ code: "vmdk.extent-not-disk", message: `is a ${magic === "COWD" ? "vmfsSparse" : "seSparse"} delta extent, not a disk`, file: h.path, hint: "give the snapshot's descriptor (NAME-00000N.vmdk), not its -delta or -sesparse file" });
  }
  if (!looksLikeDescriptor(head)) {
    throw new FerryError({ code: "vmdk.not-a-descriptor", message: "is not a VMDK descriptor or sparse disk (raw data: a -flat extent?)", file: h.path, line: 1, hint: "give the disk's small NAME.vmdk descriptor that the VMX names" });
  }
  if (h.stat.size > MAX_DESCRIPTOR_BYTES) {
    throw new FerryError({ code: "vmdk.descriptor-too-large", message: `descriptor is ${h.stat.size} bytes; a VMDK descriptor is at most 1 MiB`, file: h.path, hint: "this is not a VMware disk descriptor; check the guest's files" });
  }
  return { descriptor: parseDescriptor(await h.read(0, h.stat.size), h.path), header: null };
}

/** The file holding the descriptor being read, and the extent that is that file itself (see selfExtent). */
interface Self {
  path: string;
  header: KdmvHeader | null;
  handle: Handle;
  own: DescriptorExtent | null;
}

/**
 * The file an extent names. The extent that is its own file is read as that
 * file even when it names another (a renamed disk), as VMware and qemu-img
 * do; the name still passes every confinement check, and only its absence is
 * forgiven, with an info note naming both names.
 */
async function extentFile(ctx: Context, e: DescriptorExtent, name: string, descriptorPath: string, self: Self): Promise<ConfinedFile> {
  const where: Where = { file: descriptorPath, line: e.line };
  if (e !== self.own) return resolveConfined(name, dirname(descriptorPath), ctx.confinement, where, "extent");
  let named: ConfinedFile | null = null;
  try {
    named = await resolveConfined(name, dirname(descriptorPath), ctx.confinement, where, "extent");
  } catch (err) {
    if (!(err instanceof FerryError && err.code === "vmdk.missing")) throw err;
  }
  if (named?.path === self.path) return named;
  const own = basename(self.path);
  concern(ctx, "vmdk.extent.renamed", "info", `${own} names its data "${name}" (line ${e.line} of its embedded descriptor), ${named ? "another file: the disk was copied or renamed" : "which does not exist: the disk was renamed"}; Ferry reads ${own} itself, as VMware and qemu-img do`);
  return { path: self.path, stat: self.handle.stat };
}

async function extentFacts(ctx: Context, e: DescriptorExtent, descriptorPath: string, self: Self): Promise<{ allocated: number | null; path: string | null }> {
  if (e.access !== "RW") {
    throw new FerryError({ code: "vmdk.extent.access", message: `extent "${e.file ?? "ZERO"}" is ${e.access}; Ferry copies only complete, writable (RW) disks`, file: descriptorPath, line: e.line, hint: "a read-only or inaccessible extent means the disk is incomplete; consolidate it in VMware first" });
  }
  if (e.type === "VMFSRDM" || e.type === "VMFSRAW") {
    throw new FerryError({ code: "vmdk.raw-device", message: `extent "${e.file}" is a raw device mapping (${e.type}); its data is on a SAN LUN, not in the guest's files`, file: descriptorPath, line: e.line, hint: "copy the LUN's data to a virtual disk in VMware, or attach the LUN to the KVM guest by hand" });
  }
  if (e.type === "ZERO" || e.file === null) return { allocated: 0, path: null };
  const f = await extentFile(ctx, e, e.file, descriptorPath, self);
  const input = ctx.confinement.input;
  addFile(ctx, f.path, f.stat.size, "extent");
  const bytes = e.sectors * SECTOR;
  const blocks = () => {
    ctx.sources.add("file-blocks");
    return Math.min(bytes, f.stat.allocatedBytes ?? f.stat.size);
  };
  switch (e.type) {
    case "FLAT":
    case "VMFS": {
      const need = (e.offset + e.sectors) * SECTOR;
      if (f.stat.size < need) {
        throw new FerryError({ code: "vmdk.extent.short", message: `flat extent "${e.file}" is ${f.stat.size} bytes, but the descriptor needs ${need}`, file: descriptorPath, line: e.line, hint: "the file is truncated: the copy from the datastore may be incomplete" });
      }
      return { allocated: blocks(), path: f.path };
    }
    case "SPARSE": {
      const read = async (h: Handle, header: KdmvHeader) => {
        if (header.capacitySectors !== e.sectors) {
          concern(ctx, "vmdk.extent.size-mismatch", "warning", `extent ${basename(f.path)} holds ${header.capacitySectors} sectors, its descriptor says ${e.sectors}`);
        }
        const a = await kdmvAllocation(header, h.stat.size, h.read);
        ctx.sources.add(a.source);
        return { allocated: a.bytes, path: f.path };
      };
      if (f.path === self.path && self.header) return read(self.handle, self.header);
      return withHandle(input, f.path, f.stat, async (h) => {
        const header = parseSparseHeader(await h.read(0, SECTOR), f.path);
        if (header.kind !== "KDMV") throw new FerryError({ code: "vmdk.header.magic", message: `SPARSE extent "${e.file}" has a ${header.kind} header, not KDMV`, file: descriptorPath, line: e.line, hint: "the extent does not match its descriptor" });
        return read(h, header);
      });
    }
    case "VMFSSPARSE":
      return withHandle(input, f.path, f.stat, async (h) => {
        const header = parseSparseHeader(await h.read(0, SECTOR), f.path);
        if (header.kind !== "COWD") throw new FerryError({ code: "vmdk.header.magic", message: `VMFSSPARSE extent "${e.file}" has no COWD header`, file: descriptorPath, line: e.line, hint: "the extent does not match its descriptor" });
        const a = await cowdAllocation(header, h.stat.size, h.read);
        if (!a) return { allocated: blocks(), path: f.path };
        ctx.sources.add(a.source);
        return { allocated: a.bytes, path: f.path };
      });
    case "SESPARSE":
      return withHandle(input, f.path, f.stat, async (h) => {
        if (sparseMagic(await h.read(0, SECTOR)) !== "SESPARSE") throw new FerryError({ code: "vmdk.header.magic", message: `SESPARSE extent "${e.file}" has no seSparse header`, file: descriptorPath, line: e.line, hint: "the extent does not match its descriptor" });
        return { allocated: blocks(), path: f.path };
      });
    default:
      return { allocated: null, path: f.path };
  }
}

interface Link {
  link: ChainLink;
  descriptor: Descriptor;
  /** Each extent's resolved file (null for ZERO extents). */
  paths: (string | null)[];
}

async function readLink(ctx: Context, path: string, stat: FileStat): Promise<Link> {
  return withHandle(ctx.confinement.input, path, stat, async (h) => {
    addFile(ctx, path, h.stat.size, "descriptor");
    const { descriptor: d, header } = await readDescriptor(h);
    const createType = d.createType!;
    const ct = createType.toLowerCase();
    if (DEVICE_TYPES.has(ct)) {
      throw new FerryError({ code: "vmdk.raw-device", message: `createType "${createType}" is a raw device mapping; its data is on a SAN LUN, not in the guest's files`, file: path, line: d.lines["createtype"] ?? null, hint: "copy the LUN's data to a virtual disk in VMware, or attach the LUN to the KVM guest by hand" });
    }
    if (!CREATE_TYPES.has(ct)) {
      throw new FerryError({ code: "vmdk.create-type", message: `createType "${createType}" is not one Ferry reads`, file: path, line: d.lines["createtype"] ?? null, hint: "supported: monolithicSparse, monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, streamOptimized, vmfs, vmfsSparse, vmfsThin, seSparse" });
    }
    let allocated: number | null = 0;
    const paths: (string | null)[] = [];
    for (const e of d.extents) {
      const a = await extentFacts(ctx, e, path, { path, header, handle: h, own: header ? selfExtent(d) : null });
      allocated = allocated === null || a.allocated === null ? null : allocated + a.allocated;
      paths.push(a.path);
    }
    const extents: Extent[] = d.extents.map(({ access, sectors, type, file, offset }) => ({ access, sectors, type, file, offset }));
    return {
      descriptor: d,
      paths,
      link: {
        file: path,
        createType,
        cid: d.cid,
        parentCid: d.parentCid,
        capacityBytes: d.extents.reduce((s, e) => s + e.sectors * SECTOR, 0),
        allocatedBytes: allocated,
        extents,
      },
    };
  });
}

export interface InspectDiskOptions {
  confinement: Confinement;
  /** Where the name came from (the VMX line), for errors. */
  where?: Where;
}

/** Inspect the disk `name` (a VMX fileName, or a path), relative to `baseDir`. */
export async function inspectDisk(name: string, baseDir: string, options: InspectDiskOptions): Promise<DiskFacts> {
  const ctx: Context = { confinement: options.confinement, concerns: [], files: new Map(), sources: new Set(), visited: new Set() };
  const input = ctx.confinement.input;
  const top = await resolveConfined(name, baseDir, ctx.confinement, options.where ?? { file: name }, "disk");
  const chain: Link[] = [];
  let current: { path: string; stat: FileStat } | null = top;
  while (current) {
    if (ctx.visited.has(current.path)) {
      throw new FerryError({ code: "vmdk.chain.loop", message: `the snapshot chain loops back to ${basename(current.path)}`, file: chain[chain.length - 1]!.link.file, line: chain[chain.length - 1]!.descriptor.lines["parentfilenamehint"] ?? null, hint: "the parentFileNameHint lines form a cycle; the chain is damaged or hostile" });
    }
    if (chain.length >= MAX_CHAIN_DEPTH) {
      throw new FerryError({ code: "vmdk.chain.too-deep", message: `the snapshot chain is deeper than ${MAX_CHAIN_DEPTH}`, file: top.path, hint: "consolidate the guest's snapshots in VMware first" });
    }
    ctx.visited.add(current.path);
    const link = await readLink(ctx, current.path, current.stat);
    chain.push(link);
    current = null;
    const d = link.descriptor;
    if (d.parentCid === null || d.parentCid === NO_PARENT) break;
    const child = basename(link.link.file);
    if (!d.parentFileNameHint) {
      concern(ctx, "vmdk.chain.no-parent", "critical", `${child} is a snapshot (parentCID ${d.parentCid}) but names no parent (parentFileNameHint)`);
      break;
    }
    const where = { file: link.link.file, line: d.lines["parentfilenamehint"] ?? null };
    let parent;
    try {
      parent = await resolveConfined(d.parentFileNameHint, dirname(link.link.file), ctx.confinement, where, "parent");
    } catch (e) {
      if (e instanceof FerryError && e.code === "vmdk.missing") {
        concern(ctx, "vmdk.chain.missing-parent", "critical", `${child} is a snapshot of ${d.parentFileNameHint}, which does not exist`);
        break;
      }
      throw e;
    }
    // A parent already visited is caught as a loop at the top of the next turn.
    current = parent;
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!.link;
    const parent = chain[i + 1]!.link;
    if (parent.cid !== child.parentCid) {
      concern(ctx, "vmdk.chain.cid-mismatch", "critical", `${basename(child.file)} expects its parent ${basename(parent.file)} to have CID ${child.parentCid}, but it has ${parent.cid}: the parent changed after the snapshot was taken`);
    }
    if (parent.capacityBytes !== child.capacityBytes) {
      concern(ctx, "vmdk.chain.size-mismatch", "warning", `${basename(child.file)} is ${child.capacityBytes} bytes, its parent ${basename(parent.file)} ${parent.capacityBytes}`);
    }
  }

  if (chain[0]!.link.capacityBytes === 0) {
    concern(ctx, "vmdk.empty", "critical", `${basename(top.path)} has a size of zero: there is no disk to copy`);
  }
  const locks = await findLocks(top.path, input);
  if (locks.length) {
    concern(ctx, "vmdk.locked", "warning", `VMware lock files beside the disk (${locks.map((l) => basename(l)).join(", ")}): the guest may be running, and a copy of a running guest is not consistent`);
  }
  const head = chain[0]!;
  const allocs = chain.map((l) => l.link.allocatedBytes);
  const allocated = allocs.some((a) => a === null) ? null : Math.min(head.link.capacityBytes, allocs.reduce<number>((s, a) => s + a!, 0));
  const ddb = head.descriptor.ddb;
  const source: DiskSource = input.diskSource({
    path: top.path,
    createType: head.link.createType,
    chainLength: chain.length,
    capacityBytes: head.link.capacityBytes,
    extents: head.descriptor.extents.map((e, i) => ({ type: e.type, path: head.paths[i] ?? null, offsetSectors: e.offset, sectors: e.sectors })),
  });
  const hw = ddb["ddb.virtualhwversion"];
  return {
    file: top.path,
    createType: head.link.createType,
    capacityBytes: head.link.capacityBytes,
    allocatedBytes: allocated,
    allocationSource: ctx.sources.size === 0 ? (allocated === 0 ? "grain-tables" : null) : ctx.sources.size === 1 ? [...ctx.sources][0]! : "mixed",
    adapterType: ddb["ddb.adaptertype"] ?? null,
    hardwareVersion: hw && /^\d+$/.test(hw) ? Number(hw) : null,
    chain: chain.map((l) => l.link),
    extents: head.link.extents,
    files: [...ctx.files.values()],
    locks,
    concerns: ctx.concerns,
    source,
  };
}

/** `.lck` files or folders (Workstation `NAME.vmdk.lck/`, ESXi `.lck-XXXX`) beside a disk. */
export async function findLocks(diskPath: string, input: Input = localInput): Promise<string[]> {
  try {
    return (await input.readdir(dirname(diskPath), 100_000))
      .map((d) => d.name)
      .filter((n) => n.endsWith(".lck") || n.startsWith(".lck-"))
      .map((n) => `${dirname(diskPath)}/${n}`)
      .sort();
  } catch (e) {
    if (e instanceof FerryError) throw e;
    return [];
  }
}
