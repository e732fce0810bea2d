"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "./TrpcProvider";

const RANK = ["viewer", "operator", "admin"] as const;

/** Whether the signed-in account has at least this role, null until known (the server checks anyway; this only hides what would be refused). */
export function useAtLeast(role: (typeof RANK)[number]): boolean | null {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  return me.data ? RANK.indexOf(me.data.role) >= RANK.indexOf(role) : null;
}

/** The admin's pages show for admins only. */
export function AdminLinks() {
  if (useAtLeast("admin") !== true) return null;
  return (
    <>
      <Link href="/audit" className="hover:underline">Audit</Link>
      <Link href="/users" className="hover:underline">Accounts</Link>
    </>
  );
}
