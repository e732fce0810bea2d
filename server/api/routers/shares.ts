import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { browse, Listing, scanShare, ScanItem, findShare, openShareInput, withShareInput } from "../../shares";
import { hostKeyStatus, acceptHostKey, HostKeyStatus } from "../../shares/host-keys";
import { adminProcedure, viewerProcedure, openStream, router } from "../trpc";

const RelPath = z.string().max(4096);
const ShareName = z.string().min(1).max(64);

export const sharesRouter = router({
  list: viewerProcedure
    .output(z.array(z.object({ name: z.string(), path: z.string(), readOnly: z.boolean(), kind: z.enum(["local", "ssh"]), host: z.string().nullable() })))
    .query(({ ctx }) => ctx.ferry.config.shares.map((s) => ({ name: s.name, path: s.path, readOnly: s.readOnly, kind: s.ssh ? ("ssh" as const) : ("local" as const), host: s.ssh ? `${s.ssh.user}@${s.ssh.host}:${s.ssh.port}` : null }))),

  browse: viewerProcedure
    .input(z.object({ share: ShareName, relPath: RelPath.default("") }))
    .output(Listing)
    .query(({ ctx, input }) => {
      const share = findShare(ctx.ferry.config, input.share);
      return withShareInput(share, (source) => browse(share, input.relPath, source));
    }),

  /** Every guest below a folder, streamed as found. */
  scan: viewerProcedure
    .input(z.object({ share: ShareName, relPath: RelPath.default("") }))
    .subscription(async function* ({ ctx, input, signal }) {
      const share = findShare(ctx.ferry.config, input.share);
      const release = openStream(ctx.session);
      const source = await openShareInput(share).catch((e: unknown) => {
        release();
        throw e;
      });
      let checkedAt = 0;
      try {
        for await (const item of scanShare(share, input.relPath, { signal, input: source })) {
          // A session ended meanwhile (sign-out, a new password, a removed account) ends the scan too
          // (asked at most every 200 ms: with PostgreSQL each check is a round trip).
          if (Date.now() - checkedAt >= 200) {
            checkedAt = Date.now();
            if (!(await ctx.ferry.auth.sessionById(ctx.session.id))) return;
          }
          yield ScanItem.parse(item);
        }
      } finally {
        await source.close();
        release();
      }
    }),

  /** An ssh share's host key against its known_hosts: known, or unknown/changed with the fingerprint the server offers. */
  hostKey: viewerProcedure
    .input(z.object({ share: ShareName }))
    .output(HostKeyStatus)
    .query(({ ctx, input }) => hostKeyStatus(findShare(ctx.ferry.config, input.share))),

  /** An admin accepts the fingerprint they were shown: stored in the share's known_hosts if the server still offers exactly it. */
  acceptHostKey: adminProcedure
    .input(z.object({ share: ShareName, fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/) }))
    .output(HostKeyStatus)
    .mutation(async ({ ctx, input }) => {
      const share = findShare(ctx.ferry.config, input.share);
      if (!share.ssh) throw new TRPCError({ code: "BAD_REQUEST", message: `share "${share.name}" is not an ssh share` });
      const r = await acceptHostKey(share, input.fingerprint);
      await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "shares.acceptHostKey", detail: { share: share.name, fingerprint: input.fingerprint } });
      return r;
    }),
});
