import { z } from "zod";
import { AuditEntry, LoginLimiter, Role, SESSION_MS } from "../../auth";
import { adminProcedure, openProcedure, refuse, router, SESSION_COOKIE, viewerProcedure } from "../trpc";

/** One per process (globalThis: Next.js may load this module more than once). */
const LIMITER = Symbol.for("ferry.login-limiter");
const g = globalThis as unknown as Record<symbol, LoginLimiter | undefined>;
const limiter = () => (g[LIMITER] ??= new LoginLimiter());

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

export const authRouter = router({
  /** Who is signed in, or null. */
  me: openProcedure.output(z.object({ user: z.string(), role: Role }).nullable()).query(({ ctx }) => (ctx.session ? { user: ctx.session.user, role: ctx.session.role } : null)),

  login: openProcedure
    .input(z.object({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }))
    .output(z.object({ user: z.string(), role: Role }))
    .mutation(async ({ ctx, input }) => {
      const { auth } = ctx.ferry;
      const verdict = limiter().check(ctx.address, input.user);
      if (!verdict.ok) {
        const seconds = Math.ceil(verdict.retryAfterMs / 1000);
        await auth.audit({ user: input.user, address: ctx.address, action: "auth.login.throttled", detail: { reason: verdict.reason, retryAfterSeconds: seconds } });
        throw refuse(
          "TOO_MANY_REQUESTS",
          "auth.throttled",
          `too many sign-in attempts${verdict.reason === "account" ? " on this account" : ""}; try again in ${seconds} s`,
          verdict.reason === "account" ? "the account saw many wrong passwords from anywhere; the wait doubles with each one, up to 15 minutes; after it a right password signs in and clears the count" : "wait a minute; each address and user name gets 5 tries a minute",
        );
      }
      if (!(await auth.checkPassword(input.user, input.password))) {
        limiter().fail(ctx.address, input.user);
        await auth.audit({ user: input.user, address: ctx.address, action: "auth.login.failed" });
        throw refuse("UNAUTHORIZED", "auth.wrong-password", "wrong user name or password", "user names and passwords are case-sensitive");
      }
      limiter().succeed(input.user);
      const { token, session } = await auth.createSession(input.user);
      ctx.setCookie(cookie(token, SESSION_MS / 1000, ctx.secure));
      await auth.audit({ user: input.user, address: ctx.address, action: "auth.login" });
      return { user: input.user, role: session.role };
    }),

  /** Sign out everywhere: every session of the user ends. */
  logout: viewerProcedure.output(z.object({ ended: z.number() })).mutation(async ({ ctx }) => {
    const ended = await ctx.ferry.auth.endSessions(ctx.session.user);
    ctx.setCookie(cookie("", 0, ctx.secure));
    await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "auth.logout", detail: { sessions: ended } });
    return { ended };
  }),

  audit: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(5000).optional() }).default({}))
    .output(z.array(AuditEntry))
    .query(({ ctx, input }) => ctx.ferry.auth.auditLog(input.limit)),
});
