import type { JobOptionsInput } from "@/server/jobs/job";

/** What the wizard collects; turned into one job's options per guest. */
export interface CommonOptions {
  /** libvirt when the target is a libvirt pool (the target decides). */
  output: "local" | "qemu" | "json" | "libvirt";
  target?: string;
  format: "raw" | "qcow2";
  allocation: "sparse" | "preallocated";
  /** MiB/s per disk; undefined for no limit. */
  rateLimitMiBps?: number;
  /** Copy the disks without converting the guest. */
  copyOnly: boolean;
  /** Boot the result under qemu before finishing. */
  bootCheck: boolean;
  /** The conversion host to run on; undefined: any host. */
  host?: string;
  /** Run again on another host when the host running it is lost, at most this many times. */
  autoRetry: number;
  /** A libvirt target: start the guest once it is defined. */
  start?: boolean;
  /** Windows guests: install the configured virtio-win drivers. */
  useVirtioWin: boolean;
}

export interface NicChoice {
  type: "network" | "bridge";
  name: string;
}

export interface GuestChoices {
  name?: string;
  /** NIC id → where it connects on KVM. */
  nics: Record<string, NicChoice>;
  excludeDisks: string[];
}

export interface NicInfo {
  id: string;
  mac: string | null;
  network: string | null;
}

export const NAME_OK = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/;

export function jobOptions(common: CommonOptions, g: GuestChoices | undefined, nics: NicInfo[]): JobOptionsInput {
  const macs: string[] = [];
  const networks: string[] = [];
  const bridges: string[] = [];
  for (const n of nics) {
    const c = g?.nics[n.id];
    if (!c || !c.name) continue;
    // One NIC by its MAC when it has one; otherwise every NIC on its source network.
    if (n.mac) macs.push(`${n.mac}:${c.type}:${c.name}`);
    else if (n.network) (c.type === "bridge" ? bridges : networks).push(`${n.network}:${c.name}`);
  }
  return {
    ...common,
    name: g?.name && NAME_OK.test(g.name) ? g.name : undefined,
    macs,
    networks,
    bridges,
    excludeDisks: g?.excludeDisks ?? [],
  };
}
