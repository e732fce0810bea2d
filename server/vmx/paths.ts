import { posix } from "node:path";

/**
 * A file name from the VMX resolved against the VMX's folder. Only string
 * work: whether the result may be opened is decided later, at the edge
 * (confinement to the share belongs to the disk and share layers).
 */
export function resolveAgainst(vmxPath: string, file: string): string {
  if (file.startsWith("/")) return posix.normalize(file);
  // A Windows host path (Workstation on Windows) cannot be joined to a POSIX folder.
  if (/^[A-Za-z]:[\\/]/.test(file) || file.startsWith("\\\\")) return file;
  return posix.join(posix.dirname(vmxPath), file);
}

export function vmxBaseName(vmxPath: string): string {
  return posix.basename(vmxPath).replace(/\.vmx$/i, "");
}
