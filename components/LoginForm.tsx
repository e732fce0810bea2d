"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "./TrpcProvider";
import { btnPrimary, Card, ErrorBox, input } from "./ui";

export function LoginForm({ next }: { next: string }) {
  const trpc = useTRPC();
  const [user, setUser] = useState("admin");
  const [password, setPassword] = useState("");
  const router = useRouter();
  const qc = useQueryClient();
  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: () => {
        qc.clear();
        // Only a path on this site: never an open redirect.
        router.push(next.startsWith("/") && !next.startsWith("//") ? next : "/import");
      },
    }),
  );
  return (
    <div className="mx-auto max-w-sm">
      <Card title="Sign in to Ferry" id="login-heading">
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            login.mutate({ user, password });
          }}
        >
          <label className="block text-sm">
            <span className="font-medium">User</span>
            <input className={`${input} mt-1 block w-full`} autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} />
          </label>
          <label className="block text-sm">
            <span className="font-medium">Password</span>
            <input className={`${input} mt-1 block w-full`} type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
          <ErrorBox error={login.error} title="Not signed in" />
          <button type="submit" className={btnPrimary} disabled={login.isPending || !password}>{login.isPending ? "Signing in…" : "Sign in"}</button>
          <p className="text-xs text-slate-500">On first start the server prints the admin password in its log once; set FERRY_ADMIN_PASSWORD to choose it.</p>
        </form>
      </Card>
    </div>
  );
}
