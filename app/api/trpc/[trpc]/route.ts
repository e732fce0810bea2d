import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { guardRequest } from "@/server/api/guard";
import { appRouter } from "@/server/api/root";
import { createContext } from "@/server/api/trpc";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  return guardRequest(req) ?? fetchRequestHandler({ endpoint: "/api/trpc", req, router: appRouter, createContext });
}

export { handler as GET, handler as POST };
