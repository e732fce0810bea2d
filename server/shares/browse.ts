import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { FerryError } from "../errors";
import { isInside } from "../host-fs";
import type { Share } from "./config";
import { resolveInShare, shareRoot } from "./paths";

export const BrowseEntry = z.object({
  name: z.string(),
  kind: z.enum(["folder", "vmx", "vmdk", "file"]),
  bytes: z.number().int().nonnegative(),
  mtimeMs: z.number(),
});
export const Listing = z.object({
  share: z.string(),
  /** Normalised, relative to the share root. */
  path: z.string(),
  entries: z.array(BrowseEntry),
  /** Entries hidden because they lead outside the share or cannot be read. */
  hidden: z.number().int().nonnegative(),
  truncated: z.boolean(),
});
export type Listing = z.infer<typeof Listing>;

const MAX_ENTRIES = 5000;

function kindOf(name: string, isDir: boolean): z.infer<typeof BrowseEntry>["kind"] {
  if (isDir) return "folder";
  if (/\.vmx$/i.test(name)) return "vmx";
  if (/\.vmdk$/i.test(name)) return "vmdk";
  return "file";
}

/** One folder of a share: folders first, then files, by name. Symlinks leading out are hidden. */
export function browse(share: Share, relPath: string): Listing {
  const p = resolveInShare(share, relPath);
  if (!statSync(p.abs).isDirectory()) {
    throw new FerryError({ code: "share.path.not-folder", message: `"${relPath}" is not a folder`, file: null, hint: "browse folders; open .vmx files with the preview" });
  }
  const root = shareRoot(share);
  let hidden = 0;
  const entries: Listing["entries"] = [];
  const names = readdirSync(p.abs, { withFileTypes: true });
  for (const d of names) {
    if (entries.length >= MAX_ENTRIES) break;
    const full = join(p.abs, d.name);
    try {
      let st = lstatSync(full);
      if (st.isSymbolicLink()) {
        const real = realpathSync(full);
        if (!isInside(root, real)) {
          hidden++;
          continue;
        }
        st = statSync(real);
      }
      if (!st.isDirectory() && !st.isFile()) {
        hidden++;
        continue;
      }
      entries.push({ name: d.name, kind: kindOf(d.name, st.isDirectory()), bytes: st.isFile() ? st.size : 0, mtimeMs: st.mtimeMs });
    } catch {
      hidden++;
    }
  }
  const key = (n: string) => n.toLowerCase();
  entries.sort((a, b) => Number(b.kind === "folder") - Number(a.kind === "folder") || (key(a.name) < key(b.name) ? -1 : key(a.name) > key(b.name) ? 1 : 0));
  return { share: share.name, path: p.rel, entries, hidden, truncated: names.length > MAX_ENTRIES };
}
