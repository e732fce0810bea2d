"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTRPC } from "./TrpcProvider";

/** Who is signed in, and sign-out (which ends every session of the user). */
export function SignOut() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const router = useRouter();
  const qc = useQueryClient();
  const logout = useMutation(
    trpc.auth.logout.mutationOptions({
      onSuccess: () => {
        qc.clear();
        router.push("/login");
      },
    }),
  );
  if (!me.data) return null;
  return (
    <span className="flex items-center gap-2">
      <span className="text-slate-500">{me.data.user} ({me.data.role})</span>
      <button type="button" className="underline" onClick={() => logout.mutate()}>Sign out</button>
    </span>
  );
}
