import { posix } from "node:path";
import { z } from "zod";
import { FerryError } from "../errors";
import { isInside } from "../host-fs";
import type { Input } from "../input/input";
import { localInput } from "../input/local";
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
export async function browse(share: Share, relPath: string, input: Input = localInput): Promise<Listing> {
  const p = await resolveInShare(share, relPath, input);
  if ((await input.stat(p.abs)).type !== "folder") {
    throw new FerryError({ code: "share.path.not-folder", message: `"${relPath}" is not a folder`, file: null, hint: "browse folders; open .vmx files with the preview" });
  }
  const root = await shareRoot(share, input);
  let hidden = 0;
  const entries: Listing["entries"] = [];
  const names = await input.readdir(p.abs, MAX_ENTRIES + 1);
  for (const d of names.slice(0, MAX_ENTRIES)) {
    const full = posix.join(p.abs, d.name);
    try {
      let st = d.type === "symlink" || d.size === null ? await input.lstat(full) : { type: d.type, size: d.size, mtimeMs: d.mtimeMs ?? 0 };
      if (st.type === "symlink") {
        const real = await input.realpath(full);
        if (!isInside(root, real)) {
          hidden++;
          continue;
        }
        st = await input.stat(real);
      }
      if (st.type !== "folder" && st.type !== "file") {
        hidden++;
        continue;
      }
      entries.push({ name: d.name, kind: kindOf(d.name, st.type === "folder"), bytes: st.type === "file" ? st.size : 0, mtimeMs: st.mtimeMs });
    } catch (e) {
      if (e instanceof FerryError && e.code.startsWith("ssh.")) throw e;
      hidden++;
    }
  }
  const key = (n: string) => n.toLowerCase();
  entries.sort((a, b) => Number(b.kind === "folder") - Number(a.kind === "folder") || (key(a.name) < key(b.name) ? -1 : key(a.name) > key(b.name) ? 1 : 0));
  return { share: share.name, path: p.rel, entries, hidden, truncated: names.length > MAX_ENTRIES };
}
