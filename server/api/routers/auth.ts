import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { AuditEntry, RateLimiter, SESSION_MS } from "../../auth";
import { authedProcedure, publicProcedure, router, SESSION_COOKIE } from "../trpc";

const limiter = new RateLimiter(5, 60_000);

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

export const authRouter = router({
  /** Who is signed in, or null. */
  me: publicProcedure.output(z.object({ user: z.string() }).nullable()).query(({ ctx }) => (ctx.session ? { user: ctx.session.user } : null)),

  login: publicProcedure
    .input(z.object({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }))
    .output(z.object({ user: z.string() }))
    .mutation(({ ctx, input }) => {
      const { auth } = ctx.ferry;
      const key = `${ctx.address ?? "?"}|${input.user}`;
      if (limiter.blocked(key)) {
        auth.audit({ user: input.user, address: ctx.address, action: "auth.login.throttled" });
        throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: "too many sign-in attempts; wait a minute" });
      }
      if (!auth.checkPassword(input.user, input.password)) {
        limiter.fail(key);
        auth.audit({ user: input.user, address: ctx.address, action: "auth.login.failed" });
        throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong user name or password" });
      }
      const { token } = auth.createSession(input.user);
      ctx.setCookie(cookie(token, SESSION_MS / 1000, ctx.secure));
      auth.audit({ user: input.user, address: ctx.address, action: "auth.login" });
      return { user: input.user };
    }),

  /** Sign out everywhere: every session of the user ends. */
  logout: authedProcedure.output(z.object({ ended: z.number() })).mutation(({ ctx }) => {
    const ended = ctx.ferry.auth.endSessions(ctx.session.user);
    ctx.setCookie(cookie("", 0, ctx.secure));
    ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "auth.logout", detail: { sessions: ended } });
    return { ended };
  }),

  audit: authedProcedure
    .input(z.object({ limit: z.number().int().min(1).max(5000).optional() }).default({}))
    .output(z.array(AuditEntry))
    .query(({ ctx, input }) => ctx.ferry.auth.auditLog(input.limit)),
});
