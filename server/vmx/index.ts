/** The VMX reader: bytes → key tree → SourceVm. Pure; the file system stays at the edges. */
export { readVmx, parseVmxTree, type ReadVmxOptions, type ReadVmxResult } from "./read";
export { lexVmx, MAX_VMX_BYTES, type VmxEntry } from "./lexer";
export { VmxTree, buildTree, printVmx } from "./tree";
export { printSource } from "./print-source";
export * from "./source-vm";
