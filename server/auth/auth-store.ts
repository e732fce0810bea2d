import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { FerryError } from "../errors";

/** Users, sessions and the audit log, in the same store as the jobs (SQLite file or PostgreSQL database). */

export const SESSION_MS = 12 * 60 * 60 * 1000;

export const AuditEntry = z.object({
  id: z.number().int(),
  at: z.number(),
  user: z.string().nullable(),
  address: z.string().nullable(),
  action: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** What an account may do; each role includes the ones before it. */
export const Role = z.enum(["viewer", "operator", "admin"]);
export type Role = z.infer<typeof Role>;
export const roleAtLeast = (role: Role, needed: Role): boolean => Role.options.indexOf(role) >= Role.options.indexOf(needed);

/** Account names: what a sysadmin types, and nothing a log or a shell would misread. */
export const UserName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");

export const User = z.object({ name: z.string(), role: Role, createdAt: z.number(), sessions: z.number().int() });
export type User = z.infer<typeof User>;

export interface Session {
  id: string;
  user: string;
  /** The account's role now (read with the session, so a change applies at once). */
  role: Role;
  expiresAt: number;
}

/**
 * Where accounts, sessions and the audit log live, beside the jobs: chosen
 * with the job store (server/jobs/open-store.ts). The contract suite in
 * test/server/store-contract.test.ts runs on every kind.
 */
export interface AuthStore {
  users(): Promise<User[]>;
  admins(): Promise<number>;
  addUser(name: string, role: Role, password: string): Promise<void>;
  /** A new password ends every session of the account; returns how many. */
  changePassword(name: string, password: string): Promise<number>;
  /** Removes the account and ends its sessions; the last admin stays. */
  removeUser(name: string): Promise<number>;
  hasUser(name: string): Promise<boolean>;
  /**
   * FERRY_ADMIN_PASSWORD at start: the account exists as an admin with that
   * password. Sessions end only when the password really changed.
   */
  ensureAdmin(name: string, password: string): Promise<void>;
  checkPassword(name: string, password: string): Promise<boolean>;
  /** A new session; only the token's hash is stored. */
  createSession(user: string): Promise<{ token: string; session: Session }>;
  session(token: string | null | undefined): Promise<Session | null>;
  sessionById(id: string): Promise<Session | null>;
  /** Logout ends every session of the user, on every device. */
  endSessions(user: string): Promise<number>;
  audit(entry: { user: string | null; address: string | null; action: string; detail?: Record<string, unknown> }): Promise<void>;
  auditLog(limit?: number): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export const noUser = (name: string) => new FerryError({ code: "user.unknown", message: `no account named "${name}"`, file: null, hint: "list the accounts with `ferry user list` or on the Accounts page" });
export const badName = (name: string, why: string) => new FerryError({ code: "user.name.invalid", message: `"${name}" is not an account name: ${why}`, file: null, hint: "use a short name such as alice or ops-team" });
export const nameTaken = (name: string) => new FerryError({ code: "user.exists", message: `an account named "${name}" already exists`, file: null, hint: "choose another name, or change its password with `ferry user passwd`" });
export const lastAdmin = (name: string) => new FerryError({ code: "user.last-admin", message: `"${name}" is the last admin`, file: null, hint: "add another admin first; without one nobody can manage accounts" });

export const tokenId = (token: string) => createHash("sha256").update(token).digest("hex");
export const newToken = () => randomBytes(32).toString("base64url");
