"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "./TrpcProvider";

/** The admin's pages show for admins only (the server refuses the rest anyway). */
export function AdminLinks() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  if (me.data?.role !== "admin") return null;
  return (
    <>
      <Link href="/audit" className="hover:underline">Audit</Link>
      <Link href="/users" className="hover:underline">Accounts</Link>
    </>
  );
}
