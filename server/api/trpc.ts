import { initTRPC, TRPCError } from "@trpc/server";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Session } from "../auth";
import { FerryError } from "../errors";
import { ferry, startWorker, type Ferry } from "../app";

export const SESSION_COOKIE = "ferry_session";

function parseCookies(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
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
export function createContext(opts: ContextOptions) {
  const f: Ferry = ferry();
  startWorker();
  const header = (name: string): string | null => {
    if (opts.req instanceof Request) return opts.req.headers.get(name);
    const v = opts.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : (v ?? null);
  };
  const session: Session | null = f.auth.session(parseCookies(header("cookie"))[SESSION_COOKIE]);
  // The last X-Forwarded-For hop is the one the server in front of us saw; earlier ones are the client's word.
  const forwarded = header("x-forwarded-for")?.split(",").pop()?.trim() || null;
  const address = forwarded ?? (opts.req instanceof Request ? null : (opts.req.socket?.remoteAddress ?? null));
  const secure = header("x-forwarded-proto") === "https" || (opts.req instanceof Request && new URL(opts.req.url).protocol === "https:");
  const setCookie = (value: string) => {
    if (opts.resHeaders) opts.resHeaders.append("set-cookie", value);
    else opts.res?.appendHeader("set-cookie", value);
  };
  return { ferry: f, session, address, secure, setCookie };
}
export type Context = ReturnType<typeof createContext>;

const t = initTRPC.context<Context>().create({
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
  if (!r.ok && r.error.cause instanceof FerryError) {
    const code = /\.(unknown|missing|not-found)$/.test(r.error.cause.code) ? "NOT_FOUND" : "BAD_REQUEST";
    throw new TRPCError({ code, message: r.error.cause.message, cause: r.error.cause });
  }
  return r;
});

/** Everything but signing in needs a session. */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
  return next({ ctx: { ...ctx, session: ctx.session } });
});

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
