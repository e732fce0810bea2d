/** VMDK disks: descriptors, sparse headers, extents and snapshot chains, confined to the guest's folder. */
export { inspectDisk, findLocks, MAX_CHAIN_DEPTH, type InspectDiskOptions } from "./inspect";
export { confinement, checkName, mapDatastorePath, resolveConfined, type Confinement } from "./confine";
export { parseDescriptor, MAX_DESCRIPTOR_BYTES, MAX_EXTENTS, type Descriptor } from "./descriptor";
export { parseSparseHeader } from "./sparse-header";
export * from "./disk-facts";
