import { initTRPC, TRPCError } from "@trpc/server";
import { FerryError } from "../errors";
import { ferry, startWorker, type Ferry } from "../app";

/** Request context: the server's long-lived parts. Sign-in joins it in a later issue. */
export function createContext(): { ferry: Ferry } {
  const f = ferry();
  startWorker();
  return { ferry: f };
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
