import { initTRPC } from "@trpc/server";

/** Request context. Sign-in and the job store join it in later issues. */
export function createContext() {
  return {};
}
export type Context = ReturnType<typeof createContext>;

const t = initTRPC.context<Context>().create();

export const router = t.router;
export const publicProcedure = t.procedure;
