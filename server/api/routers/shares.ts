import { z } from "zod";
import { browse, Listing, scanShare, ScanItem, findShare } from "../../shares";
import { viewerProcedure, openStream, router } from "../trpc";

const RelPath = z.string().max(4096);
const ShareName = z.string().min(1).max(64);

export const sharesRouter = router({
  list: viewerProcedure
    .output(z.array(z.object({ name: z.string(), path: z.string(), readOnly: z.boolean() })))
    .query(({ ctx }) => ctx.ferry.config.shares.map((s) => ({ name: s.name, path: s.path, readOnly: s.readOnly }))),

  browse: viewerProcedure
    .input(z.object({ share: ShareName, relPath: RelPath.default("") }))
    .output(Listing)
    .query(({ ctx, input }) => browse(findShare(ctx.ferry.config, input.share), input.relPath)),

  /** Every guest below a folder, streamed as found. */
  scan: viewerProcedure
    .input(z.object({ share: ShareName, relPath: RelPath.default("") }))
    .subscription(async function* ({ ctx, input, signal }) {
      const share = findShare(ctx.ferry.config, input.share);
      const release = openStream(ctx.session);
      try {
        for await (const item of scanShare(share, input.relPath, { signal })) {
          // A session ended meanwhile (sign-out, a new password, a removed account) ends the scan too.
          if (!ctx.ferry.auth.sessionById(ctx.session.id)) return;
          yield ScanItem.parse(item);
        }
      } finally {
        release();
      }
    }),
});
