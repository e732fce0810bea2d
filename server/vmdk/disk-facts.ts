import { z } from "zod";
import { DiskSource } from "../input/input";
import { Concern } from "../types";

/** DiskFacts: everything Ferry knows about one disk before it copies a byte. */

export const Extent = z.object({
  access: z.enum(["RW", "RDONLY", "NOACCESS"]),
  sectors: z.number().int().nonnegative(),
  type: z.string(),
  /** As written in the descriptor; null for ZERO extents. */
  file: z.string().nullable(),
  /** Offset in sectors (flat extents). */
  offset: z.number().int().nonnegative(),
});
export type Extent = z.infer<typeof Extent>;

export const ChainLink = z.object({
  /** The descriptor's path (resolved, inside the guest's folder). */
  file: z.string(),
  createType: z.string(),
  cid: z.string().nullable(),
  parentCid: z.string().nullable(),
  capacityBytes: z.number().int().nonnegative(),
  allocatedBytes: z.number().int().nonnegative().nullable(),
  extents: z.array(Extent),
});
export type ChainLink = z.infer<typeof ChainLink>;

export const DiskFile = z.object({
  path: z.string(),
  bytes: z.number().int().nonnegative(),
  role: z.enum(["descriptor", "extent", "descriptor+extent"]),
});

export const DiskFacts = z.object({
  /** The path asked about (the VMX's fileName resolved, or the CLI argument). */
  file: z.string(),
  createType: z.string(),
  /** Virtual size. */
  capacityBytes: z.number().int().nonnegative(),
  /** Data present in the chain's extents (an upper bound when several links hold the same blocks). */
  allocatedBytes: z.number().int().nonnegative().nullable(),
  /** How allocatedBytes was found. */
  allocationSource: z.enum(["grain-tables", "file-blocks", "estimate", "mixed"]).nullable(),
  /** `ddb.adapterType`: ide, buslogic, lsilogic, legacyESX, pvscsi... */
  adapterType: z.string().nullable(),
  hardwareVersion: z.number().int().nullable(),
  /** The given file first, its base last. */
  chain: z.array(ChainLink),
  extents: z.array(Extent),
  /** Every file involved, with its size. */
  files: z.array(DiskFile),
  /** VMware lock files found beside the disk: the VM may be running. */
  locks: z.array(z.string()),
  concerns: z.array(Concern),
  /** What qemu-img reads the disk from, read-only: the validated descriptor's path, or a remote source the input built. */
  source: DiskSource,
});
export type DiskFacts = z.infer<typeof DiskFacts>;
