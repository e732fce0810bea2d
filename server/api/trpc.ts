import { initTRPC, TRPCError } from "@trpc/server";
import type { IncomingMessage, ServerResponse } from "node:http";
import { clientOf, peerStorage, roleAtLeast, sessionTokens, SESSION_COOKIE, trustList, type Peer, type Role, type Session } from "../auth";
import { FerryError } from "../errors";
import { ferry, startWorker, type Ferry } from "../app";

export { SESSION_COOKIE };

let trustCache: { entries: readonly string[]; list: ReturnType<typeof trustList> } | null = null;
function trusted(entries: readonly string[]) {
  if (trustCache?.entries !== entries) trustCache = { entries, list: trustList(entries) };
  return trustCache.list;
}

export interface ContextOptions {
  /** The fetch adapter (Next.js route handler) gives a Request; the standalone adapter a Node request. */
  req: Request | IncomingMessage;
  resHeaders?: Headers;
  res?: ServerResponse;
}

/**
 * Every request: the server's long-lived parts, the caller's session (from
 * the cookie, checked here on the server, whatever a proxy in front said),
 * the caller's address, and a way to set the cookie.
 */
export async function createContext(opts: ContextOptions) {
  const f: Ferry = ferry();
  startWorker();
  await f.ready;
  const header = (name: string): string | null => {
    if (opts.req instanceof Request) return opts.req.headers.get(name);
    const v = opts.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : (v ?? null);
  };
  // Any number of cookies by that name, any garbage in them: the first live session, or none.
  let session: Session | null = null;
  for (const token of sessionTokens(header("cookie"))) if ((session = await f.auth.session(token))) break;
  // The socket's peer: from the Node request, or (Next.js route handlers) from the HTTPS server in front.
  const peer: Peer | null = opts.req instanceof Request ? (peerStorage().getStore() ?? null) : { address: opts.req.socket?.remoteAddress ?? null, tls: Boolean((opts.req.socket as { encrypted?: boolean } | undefined)?.encrypted) };
  // Forwarded headers count only from a configured trusted proxy.
  const { address, secure } = clientOf(peer, header, trusted(f.config.trustedProxies));
  const setCookie = (value: string) => {
    if (opts.resHeaders) opts.resHeaders.append("set-cookie", value);
    else opts.res?.appendHeader("set-cookie", value);
  };
  return { ferry: f, session, address, secure, setCookie };
}
export type Context = Awaited<ReturnType<typeof createContext>>;

/**
 * Every procedure says who may call it: "public" (signing in, who am I), or
 * the least role it needs. test/server/roles.test.ts walks the router and
 * fails on a procedure without it.
 */
export interface Meta {
  access: "public" | Role;
}

const t = initTRPC.context<Context>().meta<Meta>().create({
  sse: {
    ping: { enabled: true, intervalMs: 5_000 },
    client: { reconnectAfterInactivityMs: 15_000 },
  },
  // What reaches the browser: a code, a readable message, the FerryError's
  // fields; never a stack trace.
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const ferryError = cause instanceof FerryError ? cause.toJSON() : null;
    return {
      ...shape,
      message: ferryError ? ferryError.message : shape.message,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, ferry: ferryError },
    };
  },
});

export const router = t.router;

/** FerryErrors thrown by the modules become BAD_REQUEST (or NOT_FOUND) with their data attached. */
export const publicProcedure = t.procedure.use(async ({ next }) => {
  const r = await next();
  // (A refusal made with refuse() already has its code.)
  if (!r.ok && r.error.code === "INTERNAL_SERVER_ERROR" && r.error.cause instanceof FerryError) {
    const code = /\.(unknown|missing|not-found)$/.test(r.error.cause.code) ? "NOT_FOUND" : "BAD_REQUEST";
    throw new TRPCError({ code, message: r.error.cause.message, cause: r.error.cause });
  }
  return r;
});

/** A refusal with its tRPC code, and a FerryError (code, message, hint) for the browser. */
export function refuse(code: TRPCError["code"], ferryCode: string, message: string, hint: string): TRPCError {
  return new TRPCError({ code, message, cause: new FerryError({ code: ferryCode, message, file: null, hint }) });
}

/** Signing in and "who am I": no session needed. */
export const openProcedure = publicProcedure.meta({ access: "public" });

/** A procedure for a role and those above it; the session and the role are checked on the server, before the input is even read. */
function forRole(role: Role) {
  return publicProcedure.meta({ access: role }).use(({ ctx, next }) => {
    if (!ctx.session) throw refuse("UNAUTHORIZED", "auth.signed-out", "sign in first", "your session ended or was never started; sign in again");
    if (!roleAtLeast(ctx.session.role, role)) throw refuse("FORBIDDEN", "auth.forbidden", `this needs the ${role} role; "${ctx.session.user}" is ${ctx.session.role === "admin" ? "an" : "a"} ${ctx.session.role}`, "ask an admin to give your account a role that allows it");
    return next({ ctx: { ...ctx, session: ctx.session } });
  });
}

/** Reading: shares, previews, jobs, health. */
export const viewerProcedure = forRole("viewer");
/** Starting, cancelling and retrying conversions. */
export const operatorProcedure = forRole("operator");
/** Accounts, the audit log, everything. */
export const adminProcedure = forRole("admin");

/** At most this many live streams (SSE) per session. */
export const MAX_STREAMS_PER_SESSION = 5;
const STREAMS = Symbol.for("ferry.streams");
const g = globalThis as unknown as Record<symbol, Map<string, number> | undefined>;

/** Count a stream against its session; the returned function releases it. */
export function openStream(session: Session): () => void {
  const streams = (g[STREAMS] ??= new Map());
  const n = streams.get(session.id) ?? 0;
  if (n >= MAX_STREAMS_PER_SESSION) throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: `at most ${MAX_STREAMS_PER_SESSION} live views per session; close another tab` });
  streams.set(session.id, n + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    streams.set(session.id, Math.max(0, (streams.get(session.id) ?? 1) - 1));
  };
}
