import { xmlUnescape } from "./capabilities";

/** A storage pool, from `virsh pool-dumpxml` and `virsh pool-info --bytes`. Pure. */

export interface PoolFacts {
  type: string;
  name: string;
  /** The target folder (directory-backed pools). */
  path: string | null;
}

export function parsePoolXml(xml: string): PoolFacts {
  const type = /<pool\s+type=(?:'([^']*)'|"([^"]*)")/.exec(xml);
  const name = /<name>([^<]*)<\/name>/.exec(xml);
  const path = /<target>[\s\S]*?<path>([^<]*)<\/path>/.exec(xml);
  return { type: type ? (type[1] ?? type[2]!) : "", name: name ? xmlUnescape(name[1]!.trim()) : "", path: path ? xmlUnescape(path[1]!.trim()) : null };
}

export interface PoolInfo {
  state: string;
  availableBytes: number | null;
  capacityBytes: number | null;
}

/** `virsh pool-info --bytes`: `State: running`, `Available: 123`. */
export function parsePoolInfo(text: string): PoolInfo {
  const field = (k: string) => new RegExp(`^${k}:\\s*(.+?)\\s*$`, "m").exec(text)?.[1] ?? null;
  const num = (k: string) => {
    const v = field(k);
    return v !== null && /^\d+$/.test(v) ? Number(v) : null;
  };
  return { state: field("State") ?? "unknown", availableBytes: num("Available"), capacityBytes: num("Capacity") };
}

/** Pools whose volumes are files in a folder on the host: Ferry writes them there. */
export const FOLDER_POOL_TYPES = ["dir", "fs", "netfs"];
