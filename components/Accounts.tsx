"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "./TrpcProvider";
import { btn, btnPrimary, Card, ErrorBox, input, td, th } from "./ui";

type Role = "viewer" | "operator" | "admin";
const ROLES: { role: Role; can: string }[] = [
  { role: "viewer", can: "sees shares, previews, jobs and their logs" },
  { role: "operator", can: "also starts, cancels and retries conversions" },
  { role: "admin", can: "also manages accounts and reads the audit log" },
];

/** Accounts (admins only): add one with a role, set a new password, remove one. A new password or a removal signs the account out everywhere. */
export function Accounts() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const users = useQuery(trpc.users.list.queryOptions());
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [password, setPassword] = useState("");
  const [passwordFor, setPasswordFor] = useState<string | null>(null);
  const [newPassword, setNewPassword] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const add = useMutation(trpc.users.add.mutationOptions({ onSuccess: (u) => { setDone(`Added ${u.role} "${u.name}".`); setName(""); setPassword(""); void refresh(); } }));
  const passwd = useMutation(trpc.users.passwd.mutationOptions({ onSuccess: (r, v) => { setDone(`New password for "${v.name}"; ${r.ended} session${r.ended === 1 ? "" : "s"} ended.`); setPasswordFor(null); setNewPassword(""); void refresh(); } }));
  const remove = useMutation(trpc.users.remove.mutationOptions({ onSuccess: (r, v) => { setDone(`Removed "${v.name}"; ${r.ended} session${r.ended === 1 ? "" : "s"} ended.`); void refresh(); } }));
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Accounts</h1>
      <ErrorBox error={users.error} title="The accounts cannot be shown" />
      <ErrorBox error={add.error ?? passwd.error ?? remove.error} title="Not changed" />
      {done && <p role="status" className="text-sm text-emerald-800 dark:text-emerald-300">{done}</p>}
      <Card>
        <table className="w-full text-sm" aria-label="Accounts">
          <thead><tr className="border-b border-slate-200 dark:border-slate-700"><th className={th}>Name</th><th className={th}>Role</th><th className={th}>Signed in</th><th className={th}>Since</th><th className={th}><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {users.data?.map((u) => (
              <tr key={u.name} className="border-b border-slate-100 dark:border-slate-800">
                <td className={td}>{u.name}</td>
                <td className={td}>{u.role}</td>
                <td className={td}>{u.sessions ? `${u.sessions} session${u.sessions === 1 ? "" : "s"}` : "—"}</td>
                <td className={td}>{new Date(u.createdAt).toLocaleDateString()}</td>
                <td className={`${td} space-x-2 text-right`}>
                  {passwordFor === u.name ? (
                    <form className="inline-flex gap-2" onSubmit={(e) => { e.preventDefault(); passwd.mutate({ name: u.name, password: newPassword }); }}>
                      <label className="sr-only" htmlFor={`pw-${u.name}`}>New password for {u.name}</label>
                      <input id={`pw-${u.name}`} className={input} type="password" autoComplete="new-password" minLength={10} value={newPassword} onChange={(e) => setNewPassword(e.target.value)} />
                      <button type="submit" className={btnPrimary} disabled={newPassword.length < 10}>Set</button>
                      <button type="button" className={btn} onClick={() => setPasswordFor(null)}>Cancel</button>
                    </form>
                  ) : (
                    <button type="button" className={btn} onClick={() => { setPasswordFor(u.name); setNewPassword(""); }}>New password</button>
                  )}
                  <button type="button" className={btn} aria-label={`Remove ${u.name}`} onClick={() => { if (window.confirm(`Remove "${u.name}"? Their sessions end now.`)) remove.mutate({ name: u.name }); }}>Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      <Card title="Add an account">
        <form className="grid gap-3 sm:grid-cols-4 sm:items-end" onSubmit={(e) => { e.preventDefault(); add.mutate({ name, role, password }); }}>
          <label className="block text-sm"><span className="font-medium">Name</span><input className={`${input} mt-1 block w-full`} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} /></label>
          <label className="block text-sm">
            <span className="font-medium">Role</span>
            <select className={`${input} mt-1 block w-full`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => <option key={r.role} value={r.role}>{r.role}</option>)}
            </select>
          </label>
          <label className="block text-sm"><span className="font-medium">Password</span><input className={`${input} mt-1 block w-full`} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} /></label>
          <button type="submit" className={btnPrimary} disabled={!name || password.length < 10 || add.isPending}>Add account</button>
        </form>
        <ul className="mt-3 list-disc pl-5 text-xs text-slate-500">
          {ROLES.map((r) => <li key={r.role}><strong>{r.role}</strong> {r.can}</li>)}
          <li>Passwords have at least 10 characters. `bin/ferry user add NAME --role ROLE` makes one for you.</li>
        </ul>
      </Card>
    </div>
  );
}
